-- Take the staged cap slots; a conflict means the slot is someone else's.
INSERT INTO dispatch_cap_slots (scope, period, customer_id, channel, slot, message_key)
SELECT scope, period, customer_id, channel, slot, message_key
FROM dispatch_stage
ON CONFLICT (scope, period, customer_id, channel, slot) DO NOTHING
