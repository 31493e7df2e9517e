-- A held message whose quiet hours are over: reserved for sending, or skipped (expired, cap, opt-out).
UPDATE dispatch_ledger
SET state = :state, reason = :reason, updated_at = :updated_at
WHERE message_key = :message_key AND state = 'held'
