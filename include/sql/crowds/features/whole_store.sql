-- definition: known to the shop as of the moment
-- features: crowd_features of (sale_id, as_of); same members as ../whole_store.sql
-- binds: sale_id, as_of
SELECT f.customer_id
FROM crowd_features f
WHERE f.sale_id = :sale_id AND f.as_of = :as_of
  AND f.is_known = 1
