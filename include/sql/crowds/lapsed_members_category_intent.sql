-- definition: members as of the moment, no paid order in the last lapsed_days days, and a visit/cart/favourite in the last intent_days days on a category they bought before
-- seed: seed 000 §三 高潜未购会员召回 (180天未购, 近期有同品类购买意愿)
-- binds: as_of, lapsed_since, intent_since
SELECT DISTINCT e.customer_id
FROM events e
JOIN customers c ON c.customer_id = e.customer_id
LEFT JOIN skus s ON s.sku_id = e.sku_id
WHERE c.member_since <= :as_of
  AND e.event_type IN ('visit', 'cart', 'favourite')
  AND e.occurred_at >= :intent_since AND e.occurred_at <= :as_of
  AND NOT EXISTS (
      SELECT 1 FROM orders o
      WHERE o.customer_id = e.customer_id
        AND ((o.paid_at >= :lapsed_since AND o.paid_at <= :as_of)
          OR (o.paid_at IS NULL AND o.balance_paid_at >= :lapsed_since AND o.balance_paid_at <= :as_of))
  )
  AND EXISTS (
      SELECT 1 FROM orders o
      JOIN order_items i ON i.order_id = o.order_id
      WHERE o.customer_id = e.customer_id
        AND i.category = COALESCE(e.category, s.category)
        AND (o.paid_at <= :as_of OR (o.paid_at IS NULL AND o.balance_paid_at <= :as_of))
  )
