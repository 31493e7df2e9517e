-- Visit times of some customers in [since, as_of) for their most active hour (smart send time).
SELECT customer_id, occurred_at
FROM events
WHERE event_type = 'visit' AND occurred_at >= :since AND occurred_at < :as_of AND customer_id IN :ids
