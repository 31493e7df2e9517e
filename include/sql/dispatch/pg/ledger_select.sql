-- PostgreSQL: the list bound as one text, its items separated by chr(31) (dacu.dispatch.ledger.pack; a short statement the driver caches). Ledger rows of a batch of message keys.
SELECT message_key, customer_id, channel, state, reason, hold_until, expires_at, attempts
FROM dispatch_ledger
WHERE message_key = ANY(string_to_array(:keys, chr(31)))
