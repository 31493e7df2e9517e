-- definition: first paid order before old_before (the reference day, or as_of if earlier)
-- features: crowd_features of (sale_id, as_of); same members as ../old_customers.sql
-- binds: sale_id, as_of, old_before
SELECT f.customer_id
FROM crowd_features f
WHERE f.sale_id = :sale_id AND f.as_of = :as_of
  AND f.first_paid_at < :old_before
