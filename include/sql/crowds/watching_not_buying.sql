-- definition: members as of the moment who claimed a coupon, carted or favourited in the last intent_days days, or visited on >= min_visits events in the last visit_days days, and have no paid order in the last no_purchase_days days
-- seed: seed 000 §三 观望未购会员转化 (近7日领券/加购/收藏 或 30天内多次访问)
-- binds: as_of, intent_since, visit_since, min_visits, no_purchase_since
SELECT w.customer_id
FROM (
    SELECT e.customer_id
    FROM events e
    WHERE e.event_type IN ('coupon_claim', 'cart', 'favourite')
      AND e.occurred_at >= :intent_since AND e.occurred_at <= :as_of
    UNION
    SELECT e.customer_id
    FROM events e
    WHERE e.event_type = 'visit'
      AND e.occurred_at >= :visit_since AND e.occurred_at <= :as_of
    GROUP BY e.customer_id
    HAVING COUNT(*) >= :min_visits
) w
JOIN customers c ON c.customer_id = w.customer_id
WHERE c.member_since <= :as_of
  AND NOT EXISTS (
      SELECT 1 FROM orders o
      WHERE o.customer_id = w.customer_id
        AND ((o.paid_at >= :no_purchase_since AND o.paid_at <= :as_of)
          OR (o.paid_at IS NULL AND o.balance_paid_at >= :no_purchase_since AND o.balance_paid_at <= :as_of))
  )
