-- definition: a paid order in the last lookback_days days (up to as_of)
-- seed: seed 001 活跃老客召回 (对近期在店铺有成交的客户进行活动提醒)
-- binds: as_of, since
SELECT DISTINCT o.customer_id
FROM orders o
WHERE ((o.paid_at >= :since AND o.paid_at <= :as_of)
    OR (o.paid_at IS NULL AND o.balance_paid_at >= :since AND o.balance_paid_at <= :as_of))
