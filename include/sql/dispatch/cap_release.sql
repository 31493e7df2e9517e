-- A message the provider rejected gives its cap slots back.
DELETE FROM dispatch_cap_slots WHERE message_key = :message_key
