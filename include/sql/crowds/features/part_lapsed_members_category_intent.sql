-- definition: the history part of lapsed_members_category_intent for one sale-local day: customers lapsed as of the day's 00:00 (base row: a paid order, none since lapsed_since; member_since set) with a visit/cart/favourite from intent_since to 00:00 (exclusive) on a category they bought before 00:00. A customer lapsed at the gate moment was lapsed at 00:00 and bought nothing since lapsed_since (< 00:00), so "bought before 00:00" is "bought by the gate moment" for every customer the gate keeps (lapsed_members_category_intent.sql re-checks lapsed and member_since on the gate's rows); dacu/crowds/features.py deletes the layer's rows first, in the same transaction
-- binds: sale_id, layer, base_layer, lapsed_since, intent_since, part_until (the day's 00:00), intent_beyond_rows (1: intent_since is before the rows' 30 days of events)
-- the category check is a correlated IN on purpose: a per-(customer, category) probe through the customer's orders
INSERT INTO crowd_part_rows (sale_id, layer, customer_id)
SELECT DISTINCT :sale_id, :layer, c.customer_id
FROM (
    SELECT DISTINCT e.customer_id, COALESCE(e.category, s.category) AS category
    FROM crowd_feature_rows f
    JOIN events e
      ON e.customer_id = f.customer_id
     AND e.event_type IN ('visit', 'cart', 'favourite')
     AND e.occurred_at >= :intent_since AND e.occurred_at < :part_until
    LEFT JOIN skus s ON s.sku_id = e.sku_id
    WHERE f.sale_id = :sale_id AND f.layer = :base_layer
      AND f.member_since IS NOT NULL
      AND f.first_paid_at IS NOT NULL
      AND f.last_paid_at < :lapsed_since
      -- the base row's last visit/cart/favourite (30 days) narrows the events read
      AND (f.last_vcf_at >= :intent_since OR :intent_beyond_rows = 1)
) c
WHERE c.category IN (
    SELECT i.category
    FROM orders o
    JOIN order_items i ON i.order_id = o.order_id
    WHERE o.customer_id = c.customer_id
      AND (o.paid_at < :part_until OR (o.paid_at IS NULL AND o.balance_paid_at < :part_until))
)
