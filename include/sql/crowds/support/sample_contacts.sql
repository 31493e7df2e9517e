-- definition: mobiles of a few customers, for the masked preview sample (never printed unmasked)
-- binds: ids (expanding)
SELECT c.customer_id, c.mobile
FROM customers c
WHERE c.customer_id IN :ids
