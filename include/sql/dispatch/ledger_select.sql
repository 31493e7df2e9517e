-- Ledger rows of a batch of message keys (keys is an expanding list).
SELECT message_key, customer_id, channel, state, reason, hold_until, expires_at, attempts
FROM dispatch_ledger
WHERE message_key IN :keys
