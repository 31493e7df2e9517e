-- definition: visited, carted or favourited an item of the given categories (event category, else the SKU's) in the last intent_days days
-- seed: seed 000 §三 类目兴趣客户吸引到店
-- binds: as_of, intent_since, categories (expanding)
SELECT DISTINCT e.customer_id
FROM events e
LEFT JOIN skus s ON s.sku_id = e.sku_id
WHERE e.event_type IN ('visit', 'cart', 'favourite')
  AND e.occurred_at >= :intent_since AND e.occurred_at <= :as_of
  AND COALESCE(e.category, s.category) IN :categories
