-- definition: no paid order as of the moment, last visit in [last_visit_from, last_visit_to) with last_visit_from within the 30-day event window
-- features: crowd_features of (sale_id, as_of); same members as ../new_by_recency.sql
-- binds: sale_id, as_of, last_visit_from, last_visit_to
SELECT f.customer_id
FROM crowd_features f
WHERE f.sale_id = :sale_id AND f.as_of = :as_of
  AND f.first_paid_at IS NULL
  AND f.last_visit_at >= :last_visit_from AND f.last_visit_at < :last_visit_to
