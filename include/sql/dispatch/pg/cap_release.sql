-- PostgreSQL: messages the provider rejected (or a later cap refused) give their slots of the
-- scope back, in one statement: the primary key's prefix (scope, period, customer) finds the
-- customers' slots, the key list picks the messages' own (a key names its customer and channel,
-- so the two lists cannot pair wrongly). No join: its plan cannot turn into a nested loop.
DELETE FROM dispatch_cap_slots
WHERE scope = :scope AND period = :period
  AND customer_id = ANY(string_to_array(:customer_id, chr(31)))
  AND message_key = ANY(string_to_array(:message_key, chr(31)))
