-- definition: members as of the moment with at least min_orders paid orders in the last lookback_days days
-- seed: seed 000 §三 购物金高意向会员提前锁客 (近365天2次及以上购买)
-- binds: as_of, since, min_orders
SELECT o.customer_id
FROM orders o
JOIN customers c ON c.customer_id = o.customer_id
WHERE c.member_since <= :as_of
  AND ((o.paid_at >= :since AND o.paid_at <= :as_of)
    OR (o.paid_at IS NULL AND o.balance_paid_at >= :since AND o.balance_paid_at <= :as_of))
GROUP BY o.customer_id
HAVING COUNT(DISTINCT o.order_id) >= :min_orders
