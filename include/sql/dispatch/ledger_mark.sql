-- The provider's answer for a reserved (or unknown) key. A key already marked sent
-- or failed is never changed again.
UPDATE dispatch_ledger
SET state = :state,
    reason = :reason,
    provider_id = COALESCE(:provider_id, provider_id),
    segments = COALESCE(:segments, segments),
    cost = COALESCE(:cost, cost),
    sent_day = COALESCE(:sent_day, sent_day),
    attempts = attempts + 1,
    updated_at = :updated_at
WHERE message_key = :message_key AND state IN ('reserved', 'unknown')
