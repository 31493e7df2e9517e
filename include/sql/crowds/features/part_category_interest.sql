-- definition: the history part of category_interest for one sale-local day: customers who visited, carted or favourited an item of the given categories (event category, else the SKU's) from intent_since to the day's 00:00 (exclusive); the gate adds the events since 00:00 (category_interest.sql); dacu/crowds/features.py deletes the layer's rows first, in the same transaction
-- binds: sale_id, layer, intent_since, part_until (the day's 00:00), categories (expanding)
INSERT INTO crowd_part_rows (sale_id, layer, customer_id)
SELECT DISTINCT :sale_id, :layer, e.customer_id
FROM events e
LEFT JOIN skus s ON s.sku_id = e.sku_id
WHERE e.event_type IN ('visit', 'cart', 'favourite')
  AND e.occurred_at >= :intent_since AND e.occurred_at < :part_until
  AND COALESCE(e.category, s.category) IN :categories
