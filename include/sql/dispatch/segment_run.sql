-- The segment run a dispatch sends from: its wave and gate moment.
SELECT wave, as_of
FROM segment_runs
WHERE sale_id = :sale_id AND strategy_id = :strategy_id AND run_key = :run_key
