-- War room: each strategy's latest segment run at or before a moment, with how many runs it had by then.
-- Reads the per-run summary (segment_runs), never the frozen crowds. Binds: sale_id, at (naive UTC).
SELECT s.strategy_id, s.run_key, s.wave, s.as_of, s.holdout_pct, s.crowd_size, s.treatment, s.holdout,
       s.excluded, s.warning, c.runs
FROM segment_runs s
JOIN (
    SELECT strategy_id, MAX(as_of) AS last_as_of, COUNT(*) AS runs
    FROM segment_runs
    WHERE sale_id = :sale_id AND as_of <= :at
    GROUP BY strategy_id
) c ON c.strategy_id = s.strategy_id AND c.last_as_of = s.as_of
WHERE s.sale_id = :sale_id
ORDER BY s.strategy_id, s.run_key
