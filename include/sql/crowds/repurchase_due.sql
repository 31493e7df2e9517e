-- definition: candidates for repurchase reminders: per (customer, SKU) the last paid purchase up to as_of and the SKU's cycle (NULL: estimated in Python from repurchase_history.sql); Python keeps those whose last purchase + cycle falls in [as_of, as_of + window_days]
-- seed: seed 001 智能复购提醒 (基于历史成交数据测算商品复购周期)
-- binds: as_of
SELECT o.customer_id, i.sku_id, MAX(COALESCE(o.paid_at, o.balance_paid_at)) AS last_paid_at,
       MAX(k.repurchase_cycle_days) AS cycle_days
FROM orders o
JOIN order_items i ON i.order_id = o.order_id
LEFT JOIN skus k ON k.sku_id = i.sku_id
WHERE (o.paid_at <= :as_of OR (o.paid_at IS NULL AND o.balance_paid_at <= :as_of))
  AND (o.refunded_at IS NULL OR o.refunded_at > :as_of)
GROUP BY o.customer_id, i.sku_id
