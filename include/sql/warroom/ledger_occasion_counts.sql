-- One send occasion's ledger rows by state, reason and receipt (index ix_dispatch_ledger_run).
-- Binds: sale_id, strategy_id, wave.
SELECT state, reason, receipt, MAX(run_key) AS run_key, COUNT(*) AS n, COALESCE(SUM(cost), 0) AS cost
FROM dispatch_ledger
WHERE sale_id = :sale_id AND strategy_id = :strategy_id AND wave = :wave
GROUP BY state, reason, receipt
