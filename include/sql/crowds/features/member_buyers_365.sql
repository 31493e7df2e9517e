-- definition: members with a paid order since `since`
-- features: crowd_features of (sale_id, as_of); same members as ../member_buyers_365.sql
-- binds: sale_id, as_of, since
SELECT f.customer_id
FROM crowd_features f
WHERE f.sale_id = :sale_id AND f.as_of = :as_of
  AND f.member_since <= :as_of
  AND f.last_paid_at >= :since
