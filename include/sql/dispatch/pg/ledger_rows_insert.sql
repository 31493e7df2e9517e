-- definition: the INSERT of a batch of ledger rows from packed lists and arrays (PostgreSQL), shared by
-- ledger_insert.sql, ledger_insert_new.sql and dry_record.sql (each adds its own conflict clause)
-- binds: sale_id, strategy_id, wave, run_key, msg_class, planned_at, updated_at (scalars);
--   message_key, customer_id, channel, state (packed: chr(31) between items); reason, hold_until, expires_at (arrays)
INSERT INTO dispatch_ledger (message_key, sale_id, strategy_id, wave, run_key, customer_id, channel, msg_class,
                             state, reason, planned_at, hold_until, expires_at, attempts, updated_at)
SELECT t.message_key, :sale_id, :strategy_id, :wave, :run_key, t.customer_id, t.channel, :msg_class,
       t.state, t.reason, :planned_at, t.hold_until, t.expires_at, 0, :updated_at
FROM unnest(string_to_array(:message_key, chr(31)), string_to_array(:customer_id, chr(31)), string_to_array(:channel, chr(31)), string_to_array(:state, chr(31)), :reason::text[],
            :hold_until::timestamp[], :expires_at::timestamp[])
     AS t(message_key, customer_id, channel, state, reason, hold_until, expires_at)
