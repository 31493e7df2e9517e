-- definition: a paid order between start and end (last year's same sale window, sale-local), paid by as_of
-- seed: seed 001 双十一老客召回 (去年双十一买过的客户)
-- binds: as_of, start, end
SELECT DISTINCT o.customer_id
FROM orders o
WHERE ((o.paid_at >= :start AND o.paid_at < :end AND o.paid_at <= :as_of)
    OR (o.paid_at IS NULL AND o.balance_paid_at >= :start AND o.balance_paid_at < :end
        AND o.balance_paid_at <= :as_of))
