-- definition: a paid order since `since` (sale-local) up to as_of, and not a member as of the moment
-- seed: seed 000 §三 高价值会员招募 (5.5日起已购未入会)
-- binds: as_of, since
SELECT DISTINCT o.customer_id
FROM orders o
JOIN customers c ON c.customer_id = o.customer_id
WHERE ((o.paid_at >= :since AND o.paid_at <= :as_of)
    OR (o.paid_at IS NULL AND o.balance_paid_at >= :since AND o.balance_paid_at <= :as_of))
  AND (c.member_since IS NULL OR c.member_since > :as_of)
