-- A message the provider rejected (or a later cap refused) gives its slot of the scope back
-- (found by the primary key's prefix: scope, period, customer, channel).
DELETE FROM dispatch_cap_slots
WHERE scope = :scope AND period = :period AND customer_id = :customer_id AND channel = :channel
  AND message_key = :message_key
