-- definition: no paid order as of the moment (features), last visit in [last_visit_from, last_visit_to): visits read from last_visit_from only (EPOCH for the lapsed band)
-- features: crowd_features of (sale_id, as_of); same members as ../new_by_recency.sql
-- binds: sale_id, as_of, last_visit_from, last_visit_to
SELECT e.customer_id
FROM events e
WHERE e.event_type = 'visit'
  AND e.occurred_at >= :last_visit_from AND e.occurred_at <= :as_of
  AND NOT EXISTS (
      SELECT 1 FROM crowd_features f
      WHERE f.sale_id = :sale_id AND f.as_of = :as_of
        AND f.customer_id = e.customer_id
        AND f.first_paid_at IS NOT NULL
  )
GROUP BY e.customer_id
HAVING MAX(e.occurred_at) < :last_visit_to
