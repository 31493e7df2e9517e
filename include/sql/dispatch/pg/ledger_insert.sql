-- PostgreSQL: reserve (or record as held / skipped / holdout) a whole batch in one statement.
-- The per-message columns come as arrays (bound once, binary), the batch's constant ones as
-- scalars. A conflict means another attempt already handled the key: it is left untouched.
-- RETURNING: the keys this attempt inserted, i.e. the reserved keys that are its own to send.
INSERT INTO dispatch_ledger (message_key, sale_id, strategy_id, wave, run_key, customer_id, channel, msg_class,
                             state, reason, planned_at, hold_until, expires_at, attempts, updated_at)
SELECT t.message_key, :sale_id, :strategy_id, :wave, :run_key, t.customer_id, t.channel, :msg_class,
       t.state, t.reason, :planned_at, t.hold_until, t.expires_at, 0, :updated_at
FROM unnest(string_to_array(:message_key, chr(31)), string_to_array(:customer_id, chr(31)), string_to_array(:channel, chr(31)), string_to_array(:state, chr(31)), :reason::text[],
            :hold_until::timestamp[], :expires_at::timestamp[])
     AS t(message_key, customer_id, channel, state, reason, hold_until, expires_at)
ON CONFLICT (message_key) DO NOTHING
RETURNING message_key
