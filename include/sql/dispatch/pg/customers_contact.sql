-- PostgreSQL: the list bound as one text, its items separated by chr(31) (dacu.dispatch.ledger.pack; a short statement the driver caches). Contact data and send permissions, re-read at send time.
SELECT customer_id, nick, mobile, email, consent_sms, consent_email, consent_inapp, opted_out_at, blacklisted
FROM customers
WHERE customer_id = ANY(string_to_array(:ids, chr(31)))
