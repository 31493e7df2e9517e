-- definition: customers with no paid order as of the moment whose last visit (up to as_of) falls in the band [last_visit_from, last_visit_to)
-- seed: seed 004 客户分层 新客户: 近期 / 休眠 / 流失
-- binds: as_of, last_visit_from, last_visit_to
SELECT e.customer_id
FROM events e
WHERE e.event_type = 'visit'
  AND e.occurred_at <= :as_of
  AND NOT EXISTS (
      SELECT 1 FROM orders o
      WHERE o.customer_id = e.customer_id
        AND (o.paid_at <= :as_of OR (o.paid_at IS NULL AND o.balance_paid_at <= :as_of))
  )
GROUP BY e.customer_id
HAVING MAX(e.occurred_at) >= :last_visit_from AND MAX(e.occurred_at) < :last_visit_to
