-- definition: carted, favourited or claimed a coupon in the last intent_days days (the sale so far) and no paid order in that span
-- seed: seed 000 §三 临门一脚人群促进其转化购买 (6.3 / 6.20)
-- binds: as_of, intent_since
SELECT DISTINCT e.customer_id
FROM events e
WHERE e.event_type IN ('cart', 'favourite', 'coupon_claim')
  AND e.occurred_at >= :intent_since AND e.occurred_at <= :as_of
  AND NOT EXISTS (
      SELECT 1 FROM orders o
      WHERE o.customer_id = e.customer_id
        AND ((o.paid_at >= :intent_since AND o.paid_at <= :as_of)
          OR (o.paid_at IS NULL AND o.balance_paid_at >= :intent_since AND o.balance_paid_at <= :as_of))
  )
