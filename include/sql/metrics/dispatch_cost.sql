-- What the sale's sends cost, per strategy, segment run and channel (billed = state 'sent').
-- Binds: sale_id.
SELECT strategy_id, run_key, channel, COUNT(*) AS sent, COALESCE(SUM(cost), 0) AS cost
FROM dispatch_ledger
WHERE sale_id = :sale_id AND state = 'sent'
GROUP BY strategy_id, run_key, channel
