-- Sent gateway messages of one send occasion without a delivery receipt yet.
SELECT message_key
FROM dispatch_ledger
WHERE sale_id = :sale_id AND strategy_id = :strategy_id AND wave = :wave
  AND state = 'sent' AND receipt IS NULL AND channel IN ('sms', 'inapp')
ORDER BY message_key
