-- definition: first paid order ever falls between start and end of the sale (paid by as_of)
-- seed: seed 004 收尾 (618新客整理分析归档, 加入客户培养计划)
-- binds: as_of, start, end
SELECT o.customer_id
FROM orders o
WHERE (o.paid_at <= :as_of OR (o.paid_at IS NULL AND o.balance_paid_at <= :as_of))
GROUP BY o.customer_id
HAVING MIN(COALESCE(o.paid_at, o.balance_paid_at)) >= :start
   AND MIN(COALESCE(o.paid_at, o.balance_paid_at)) < :end
