-- definition: for estimating SKU repurchase cycles: per (SKU, customer) with >= 2 paid orders of the SKU up to as_of, first and last purchase and the number of orders; only SKUs without a known repurchase_cycle_days (the others never use an estimate)
-- seed: seed 001 智能复购提醒 (智能测算商品的复购周期)
-- binds: as_of
SELECT i.sku_id, o.customer_id,
       MIN(COALESCE(o.paid_at, o.balance_paid_at)) AS first_paid_at,
       MAX(COALESCE(o.paid_at, o.balance_paid_at)) AS last_paid_at,
       COUNT(DISTINCT o.order_id) AS n_orders
FROM order_items i
JOIN orders o ON o.order_id = i.order_id
WHERE NOT EXISTS (SELECT 1 FROM skus k WHERE k.sku_id = i.sku_id AND k.repurchase_cycle_days IS NOT NULL)
  AND (o.paid_at <= :as_of OR (o.paid_at IS NULL AND o.balance_paid_at <= :as_of))
  AND (o.refunded_at IS NULL OR o.refunded_at > :as_of)
GROUP BY i.sku_id, o.customer_id
HAVING COUNT(DISTINCT o.order_id) >= 2
