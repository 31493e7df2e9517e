-- Lowest real transaction (paid) unit price per SKU in [since, until) (naive UTC).
SELECT i.sku_id, MIN(i.price) AS lowest
FROM order_items i
JOIN orders o ON o.order_id = i.order_id
WHERE o.paid_at >= :since AND o.paid_at < :until
GROUP BY i.sku_id
