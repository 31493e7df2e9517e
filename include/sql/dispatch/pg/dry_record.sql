-- The staged dry_run rows (see ../dry_record.sql); a real row is never touched.
INSERT INTO dispatch_ledger (message_key, sale_id, strategy_id, wave, run_key, customer_id, channel, msg_class,
                             state, reason, planned_at, hold_until, expires_at, attempts, updated_at)
SELECT message_key, sale_id, strategy_id, wave, run_key, customer_id, channel, msg_class,
       state, reason, planned_at, hold_until, expires_at, 0, updated_at
FROM dispatch_stage
ON CONFLICT (message_key) DO UPDATE
SET reason = excluded.reason, run_key = excluded.run_key, planned_at = excluded.planned_at,
    updated_at = excluded.updated_at
WHERE dispatch_ledger.state = 'dry_run'
