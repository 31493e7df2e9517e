-- definition: old customers with a paid order in the last recency_days days, >= min_orders paid orders and an average order amount >= min_amount over the last lookback_days days
-- seed: seed 004 高质量老客户 (最近购买过、购买次数高、客单价高)
-- binds: as_of, old_before, since, recent_since, min_orders, min_amount
SELECT o.customer_id
FROM orders o
WHERE ((o.paid_at >= :since AND o.paid_at <= :as_of)
    OR (o.paid_at IS NULL AND o.balance_paid_at >= :since AND o.balance_paid_at <= :as_of))
  AND EXISTS (
      SELECT 1 FROM orders p
      WHERE p.customer_id = o.customer_id
        AND (p.paid_at < :old_before OR (p.paid_at IS NULL AND p.balance_paid_at < :old_before))
  )
GROUP BY o.customer_id
HAVING COUNT(DISTINCT o.order_id) >= :min_orders
   AND SUM(o.amount) >= :min_amount * COUNT(DISTINCT o.order_id)
   AND MAX(COALESCE(o.paid_at, o.balance_paid_at)) >= :recent_since
