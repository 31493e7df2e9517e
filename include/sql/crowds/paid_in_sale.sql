-- definition: a paid order (or presale balance) since `since` (sale-local) up to as_of; used to exclude buyers
-- seed: seed 004 6.19 20:00 排除已购买
-- binds: as_of, since
SELECT DISTINCT o.customer_id
FROM orders o
WHERE ((o.paid_at >= :since AND o.paid_at <= :as_of)
    OR (o.paid_at IS NULL AND o.balance_paid_at >= :since AND o.balance_paid_at <= :as_of))
