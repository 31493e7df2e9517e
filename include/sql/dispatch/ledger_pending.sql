-- Keys of one send occasion still waiting for an answer (reserved: no provider answer
-- recorded yet; unknown: the call timed out).
SELECT message_key, customer_id, channel, state
FROM dispatch_ledger
WHERE sale_id = :sale_id AND strategy_id = :strategy_id AND wave = :wave
  AND state IN ('reserved', 'unknown')
ORDER BY message_key
