-- PostgreSQL: the list bound as one text, its items separated by chr(31) (dacu.dispatch.ledger.pack). The slots of the scope and period these customers hold.
SELECT message_key
FROM dispatch_cap_slots
WHERE scope = :scope AND period = :period AND customer_id = ANY(string_to_array(:ids, chr(31)))
