-- PostgreSQL: take slot number :slot of the scope and period for a batch of messages in one
-- statement; RETURNING names the keys that got it. A conflict means the slot is someone
-- else's (another strategy's message, or a concurrent duplicate attempt of this key, whose
-- ledger row then wins the key: the refused attempt records a skip that conflicts, or a held
-- row it no longer finds held).
INSERT INTO dispatch_cap_slots (scope, period, customer_id, channel, slot, message_key)
SELECT :scope, :period, t.customer_id, t.channel, :slot, t.message_key
FROM unnest(string_to_array(:customer_id, chr(31)), string_to_array(:channel, chr(31)), string_to_array(:message_key, chr(31))) AS t(customer_id, channel, message_key)
ON CONFLICT (scope, period, customer_id, channel, slot) DO NOTHING
RETURNING message_key
