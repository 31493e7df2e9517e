-- definition: old customers with no paid order in the last recency_days days and an average paid order amount (all history to as_of) <= max_amount
-- seed: seed 004 低质量老客 (休眠流失、低客单)
-- binds: as_of, old_before, recent_since, max_amount
SELECT o.customer_id
FROM orders o
WHERE (o.paid_at <= :as_of OR (o.paid_at IS NULL AND o.balance_paid_at <= :as_of))
GROUP BY o.customer_id
HAVING MIN(COALESCE(o.paid_at, o.balance_paid_at)) < :old_before
   AND MAX(COALESCE(o.paid_at, o.balance_paid_at)) < :recent_since
   AND SUM(o.amount) <= :max_amount * COUNT(DISTINCT o.order_id)
