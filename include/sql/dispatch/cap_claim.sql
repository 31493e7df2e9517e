-- Take cap slot number "slot" for a message; a conflict means the slot is someone else's.
INSERT INTO dispatch_cap_slots (scope, period, customer_id, channel, slot, message_key)
VALUES (:scope, :period, :customer_id, :channel, :slot, :message_key)
ON CONFLICT (scope, period, customer_id, channel, slot) DO NOTHING
