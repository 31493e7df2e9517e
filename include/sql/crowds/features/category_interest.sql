-- definition: visited, carted or favourited an item of the given categories (event category, else the SKU's) in the last intent_days days
-- features: the day's history part (part_category_interest.sql: events from intent_since to the day's 00:00) plus the events from today_since (the later of intent_since and the day's 00:00) to the gate moment, read through the (event_type, occurred_at) index; same members as ../category_interest.sql
-- binds: sale_id, part_layer, today_since, as_of, categories (expanding)
SELECT p.customer_id
FROM crowd_part_rows p
WHERE p.sale_id = :sale_id AND p.layer = :part_layer
UNION
SELECT e.customer_id
FROM events e
LEFT JOIN skus s ON s.sku_id = e.sku_id
WHERE e.event_type IN ('visit', 'cart', 'favourite')
  AND e.occurred_at >= :today_since AND e.occurred_at <= :as_of
  AND COALESCE(e.category, s.category) IN :categories
