-- PostgreSQL: reserve (or record as held / skipped / holdout) a batch of keys the caller found
-- absent a moment ago: a plain INSERT, run in a savepoint. A key inserted meanwhile by a
-- concurrent attempt raises a unique violation: the caller rolls the savepoint back and uses
-- ledger_insert.sql (ON CONFLICT DO NOTHING) instead. RETURNING: the keys inserted (all of them).
INSERT INTO dispatch_ledger (message_key, sale_id, strategy_id, wave, run_key, customer_id, channel, msg_class,
                             state, reason, planned_at, hold_until, expires_at, attempts, updated_at)
SELECT t.message_key, :sale_id, :strategy_id, :wave, :run_key, t.customer_id, t.channel, :msg_class,
       t.state, t.reason, :planned_at, t.hold_until, t.expires_at, 0, :updated_at
FROM unnest(string_to_array(:message_key, chr(31)), string_to_array(:customer_id, chr(31)), string_to_array(:channel, chr(31)), string_to_array(:state, chr(31)), :reason::text[],
            :hold_until::timestamp[], :expires_at::timestamp[])
     AS t(message_key, customer_id, channel, state, reason, hold_until, expires_at)
RETURNING message_key
