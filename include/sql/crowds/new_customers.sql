-- definition: customers the shop knows as of the moment who are not old customers (no paid order before the reference day)
-- seed: seed 000 §三 新客人群承接&转化
-- binds: as_of, old_before
SELECT k.customer_id
FROM (
    SELECT c.customer_id FROM customers c
    WHERE c.first_seen_at <= :as_of OR c.member_since <= :as_of
       OR c.fan_since <= :as_of OR c.live_fan_since <= :as_of
    UNION
    SELECT o.customer_id FROM orders o WHERE o.created_at <= :as_of
) k
WHERE NOT EXISTS (
    SELECT 1 FROM orders p
    WHERE p.customer_id = k.customer_id
      AND (p.paid_at < :old_before OR (p.paid_at IS NULL AND p.balance_paid_at < :old_before))
)
