-- Sent gateway messages of one send occasion without a delivery receipt yet (read as one
-- stream, a page at a time: dacu.dispatch.ledger.awaiting_receipt).
SELECT message_key
FROM dispatch_ledger
WHERE sale_id = :sale_id AND strategy_id = :strategy_id AND wave = :wave
  AND state = 'sent' AND receipt IS NULL AND channel IN ('sms', 'inapp')
