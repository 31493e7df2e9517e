-- definition: first paid order ever in [start, end)
-- features: crowd_features of (sale_id, as_of); same members as ../sale_new_customers.sql
-- binds: sale_id, as_of, start, end
SELECT f.customer_id
FROM crowd_features f
WHERE f.sale_id = :sale_id AND f.as_of = :as_of
  AND f.first_paid_at >= :start AND f.first_paid_at < :end
