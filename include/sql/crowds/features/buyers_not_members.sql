-- definition: a paid order since `since` and not a member as of the moment (needs a customers row)
-- features: crowd_features of (sale_id, as_of); same members as ../buyers_not_members.sql
-- binds: sale_id, as_of, since
SELECT f.customer_id
FROM crowd_features f
WHERE f.sale_id = :sale_id AND f.as_of = :as_of
  AND f.in_customers = 1
  AND f.last_paid_at >= :since
  AND (f.member_since IS NULL OR f.member_since > :as_of)
