-- PostgreSQL: the list bound as one text, its items separated by chr(31) (dacu.dispatch.ledger.pack). Visit times of some customers in [since, as_of) (smart send time).
SELECT customer_id, occurred_at
FROM events
WHERE event_type = 'visit' AND occurred_at >= :since AND occurred_at < :as_of AND customer_id = ANY(string_to_array(:ids, chr(31)))
