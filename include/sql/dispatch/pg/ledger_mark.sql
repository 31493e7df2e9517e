-- The provider's answers for the staged keys; a key already sent or failed is never changed.
UPDATE dispatch_ledger AS l
SET state = s.state,
    reason = s.reason,
    provider_id = COALESCE(s.provider_id, l.provider_id),
    segments = COALESCE(s.segments, l.segments),
    cost = COALESCE(s.cost, l.cost),
    sent_day = COALESCE(s.sent_day, l.sent_day),
    attempts = l.attempts + 1,
    updated_at = s.updated_at
FROM dispatch_stage AS s
WHERE l.message_key = s.message_key AND l.state IN ('reserved', 'unknown')
