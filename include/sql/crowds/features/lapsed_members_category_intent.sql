-- definition: members (features) with no paid order since lapsed_since, a visit/cart/favourite since intent_since (events of that window only) on a category they bought before (probe by customer)
-- features: crowd_features of (sale_id, as_of); same members as ../lapsed_members_category_intent.sql
-- binds: sale_id, as_of, lapsed_since, intent_since
SELECT DISTINCT e.customer_id
FROM events e
JOIN crowd_features f
  ON f.sale_id = :sale_id AND f.as_of = :as_of AND f.customer_id = e.customer_id
LEFT JOIN skus s ON s.sku_id = e.sku_id
WHERE e.event_type IN ('visit', 'cart', 'favourite')
  AND e.occurred_at >= :intent_since AND e.occurred_at <= :as_of
  AND f.member_since <= :as_of
  AND f.first_paid_at IS NOT NULL
  AND (f.last_paid_at IS NULL OR f.last_paid_at < :lapsed_since)
  AND EXISTS (
      SELECT 1 FROM orders o
      JOIN order_items i ON i.order_id = o.order_id
      WHERE o.customer_id = e.customer_id
        AND i.category = COALESCE(e.category, s.category)
        AND (o.paid_at <= :as_of OR (o.paid_at IS NULL AND o.balance_paid_at <= :as_of))
  )
