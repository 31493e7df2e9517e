-- definition: a paid order (or presale balance) between start and end of this sale, paid by as_of
-- seed: seed 001 物流通知 (11.14前告知发货); seed 004 收尾 沉淀
-- binds: as_of, start, end
SELECT DISTINCT o.customer_id
FROM orders o
WHERE ((o.paid_at >= :start AND o.paid_at < :end AND o.paid_at <= :as_of)
    OR (o.paid_at IS NULL AND o.balance_paid_at >= :start AND o.balance_paid_at < :end
        AND o.balance_paid_at <= :as_of))
