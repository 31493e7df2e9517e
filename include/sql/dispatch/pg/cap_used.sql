-- PostgreSQL: the list bound as one text, its items separated by chr(31) (dacu.dispatch.ledger.pack; a short statement the driver caches). Slots already taken per customer and channel (dry runs read, never claim).
SELECT customer_id, channel, COUNT(*) AS n
FROM dispatch_cap_slots
WHERE scope = :scope AND period = :period AND customer_id = ANY(string_to_array(:ids, chr(31)))
GROUP BY customer_id, channel
