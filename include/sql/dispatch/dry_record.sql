-- A dry run / backfill records what it would have done (state dry_run, reason = would_send,
-- held, holdout, already_sent, or the skip reason) under a key of its own; a later dry run
-- replaces its own row, and a real row is never touched.
INSERT INTO dispatch_ledger (message_key, sale_id, strategy_id, wave, run_key, customer_id, channel, msg_class,
                             state, reason, planned_at, hold_until, expires_at, attempts, updated_at)
VALUES (:message_key, :sale_id, :strategy_id, :wave, :run_key, :customer_id, :channel, :msg_class,
        :state, :reason, :planned_at, :hold_until, :expires_at, 0, :updated_at)
ON CONFLICT (message_key) DO UPDATE
SET reason = excluded.reason, run_key = excluded.run_key, planned_at = excluded.planned_at,
    updated_at = excluded.updated_at
WHERE dispatch_ledger.state = 'dry_run'
