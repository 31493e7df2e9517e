-- definition: known as of the moment and no paid order before old_before
-- features: crowd_features of (sale_id, as_of); same members as ../new_customers.sql
-- binds: sale_id, as_of, old_before
SELECT f.customer_id
FROM crowd_features f
WHERE f.sale_id = :sale_id AND f.as_of = :as_of
  AND f.is_known = 1
  AND (f.first_paid_at IS NULL OR f.first_paid_at >= :old_before)
