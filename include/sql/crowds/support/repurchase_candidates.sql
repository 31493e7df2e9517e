-- definition: repurchase_due.sql bounded by the longest cycle: per (customer, SKU) the last paid purchase in [since, as_of] and the SKU's cycle, where since = as_of - the longest cycle of any SKU (known or estimated); a pair whose last purchase is older cannot come due, and a pair with a purchase in the window has its last one there, so Python keeps the same customers as with repurchase_due.sql (dacu/crowds/evaluate.py)
-- seed: seed 001 智能复购提醒
-- binds: as_of, since
SELECT o.customer_id, i.sku_id, MAX(COALESCE(o.paid_at, o.balance_paid_at)) AS last_paid_at,
       MAX(k.repurchase_cycle_days) AS cycle_days
FROM orders o
JOIN order_items i ON i.order_id = o.order_id
LEFT JOIN skus k ON k.sku_id = i.sku_id
WHERE ((o.paid_at >= :since AND o.paid_at <= :as_of)
    OR (o.paid_at IS NULL AND o.balance_paid_at >= :since AND o.balance_paid_at <= :as_of))
  AND (o.refunded_at IS NULL OR o.refunded_at > :as_of)
GROUP BY o.customer_id, i.sku_id
