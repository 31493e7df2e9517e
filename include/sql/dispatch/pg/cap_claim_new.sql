-- PostgreSQL: slot number :slot of the scope and period for a batch of messages whose customers
-- are expected to hold none yet: a plain INSERT, run in a savepoint. A slot taken meanwhile (or
-- before) raises a unique violation: the caller rolls the savepoint back and claims with
-- cap_claim.sql (ON CONFLICT DO NOTHING) instead. The lists come packed (ledger.pack).
INSERT INTO dispatch_cap_slots (scope, period, customer_id, channel, slot, message_key)
SELECT :scope, :period, t.customer_id, t.channel, :slot, t.message_key
FROM unnest(string_to_array(:customer_id, chr(31)), string_to_array(:channel, chr(31)),
            string_to_array(:message_key, chr(31))) AS t(customer_id, channel, message_key)
