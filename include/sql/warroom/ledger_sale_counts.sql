-- A whole sale's ledger by occasion, state, reason and receipt: the one-off rebuild of the war-room
-- totals (data dispatched before the totals were kept). Binds: sale_id.
SELECT strategy_id, wave, state, reason, receipt, MAX(run_key) AS run_key, COUNT(*) AS n,
       COALESCE(SUM(cost), 0) AS cost
FROM dispatch_ledger
WHERE sale_id = :sale_id
GROUP BY strategy_id, wave, state, reason, receipt
