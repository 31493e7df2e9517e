-- The ledger of a sale, summarised per strategy, occasion, channel and state (CLI).
SELECT strategy_id, wave, channel, state, reason, COUNT(*) AS n, COALESCE(SUM(cost), 0) AS cost
FROM dispatch_ledger
WHERE sale_id = :sale_id
GROUP BY strategy_id, wave, channel, state, reason
ORDER BY strategy_id, wave, channel, state, reason
