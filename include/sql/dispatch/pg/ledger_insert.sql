-- Reserve (or record as held / skipped / holdout) the staged keys; a conflict leaves the row alone.
-- RETURNING: the keys this attempt inserted, i.e. the reserved keys that are its own to send.
INSERT INTO dispatch_ledger (message_key, sale_id, strategy_id, wave, run_key, customer_id, channel, msg_class,
                             state, reason, planned_at, hold_until, expires_at, attempts, updated_at)
SELECT message_key, sale_id, strategy_id, wave, run_key, customer_id, channel, msg_class,
       state, reason, planned_at, hold_until, expires_at, 0, updated_at
FROM dispatch_stage
ON CONFLICT (message_key) DO NOTHING
RETURNING message_key
