-- Reserve (or record as held / skipped / holdout) a message key. A conflict means
-- another attempt already handled the key: it is left untouched.
INSERT INTO dispatch_ledger (message_key, sale_id, strategy_id, wave, run_key, customer_id, channel, msg_class,
                             state, reason, planned_at, hold_until, expires_at, attempts, updated_at)
VALUES (:message_key, :sale_id, :strategy_id, :wave, :run_key, :customer_id, :channel, :msg_class,
        :state, :reason, :planned_at, :hold_until, :expires_at, 0, :updated_at)
ON CONFLICT (message_key) DO NOTHING
