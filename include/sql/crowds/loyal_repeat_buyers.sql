-- definition: at least min_orders paid orders in the last lookback_days days (up to as_of)
-- seed: seed 001 忠诚老客召回 (对店铺多次购买的老客进行活动提醒)
-- binds: as_of, since, min_orders
SELECT o.customer_id
FROM orders o
WHERE ((o.paid_at >= :since AND o.paid_at <= :as_of)
    OR (o.paid_at IS NULL AND o.balance_paid_at >= :since AND o.balance_paid_at <= :as_of))
GROUP BY o.customer_id
HAVING COUNT(DISTINCT o.order_id) >= :min_orders
