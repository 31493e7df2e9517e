-- definition: visited, carted or favourited since intent_since (last intent_days days) and (a paid order in the last 365 days or a member as of the moment)
-- seed: seed 000 §三 大促高潜人群种草提醒 / 预售商品信息的精准人群触达
-- binds: as_of, intent_since, bought_since
SELECT DISTINCT e.customer_id
FROM events e
WHERE e.event_type IN ('visit', 'cart', 'favourite')
  AND e.occurred_at >= :intent_since AND e.occurred_at <= :as_of
  AND (
      EXISTS (SELECT 1 FROM customers c
              WHERE c.customer_id = e.customer_id AND c.member_since <= :as_of)
   OR EXISTS (SELECT 1 FROM orders o
              WHERE o.customer_id = e.customer_id
                AND ((o.paid_at >= :bought_since AND o.paid_at <= :as_of)
                  OR (o.paid_at IS NULL AND o.balance_paid_at >= :bought_since AND o.balance_paid_at <= :as_of)))
  )
