-- PostgreSQL: messages the provider rejected (or a later cap refused) give their slots back.
DELETE FROM dispatch_cap_slots WHERE message_key = ANY(:message_key::text[])
