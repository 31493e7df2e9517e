-- The sale's segment runs (one per strategy and gate run) that the uplift read compares.
-- Binds: sale_id.
SELECT strategy_id, run_key, wave, as_of, holdout_pct, treatment, holdout
FROM segment_runs
WHERE sale_id = :sale_id
ORDER BY as_of, strategy_id, run_key
