-- definition: members (gate's feature rows) with no paid order since lapsed_since, a visit/cart/favourite since intent_since (events of that window only) on a category they bought before
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../lapsed_members_category_intent.sql
-- binds: sale_id, base_layer, gate_layer, as_of, lapsed_since, intent_since, intent_beyond_rows (1: intent_since is before the rows' 30 days of events)
-- the category check is a correlated IN on purpose: it stays a per-(customer, category) probe through
-- the customer's orders (PostgreSQL turns an EXISTS into a join that hashes every order item)
SELECT DISTINCT c.customer_id
FROM (
    SELECT DISTINCT e.customer_id, COALESCE(e.category, s.category) AS category
    FROM (
        -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
    ) f
    JOIN events e
      ON e.customer_id = f.customer_id
     AND e.event_type IN ('visit', 'cart', 'favourite')
     AND e.occurred_at >= :intent_since AND e.occurred_at <= :as_of
    LEFT JOIN skus s ON s.sku_id = e.sku_id
    WHERE f.member_since <= :as_of
      AND f.first_paid_at IS NOT NULL
      AND (f.last_paid_at IS NULL OR f.last_paid_at < :lapsed_since)
      -- the rows' last visit/cart/favourite (30 days) narrows the events read to a few customers
      AND (f.last_vcf_at >= :intent_since OR :intent_beyond_rows = 1)
) c
WHERE c.category IN (
    SELECT i.category
    FROM orders o
    JOIN order_items i ON i.order_id = o.order_id
    WHERE o.customer_id = c.customer_id
      AND (o.paid_at <= :as_of OR (o.paid_at IS NULL AND o.balance_paid_at <= :as_of))
)
