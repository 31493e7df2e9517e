-- definition: members (gate's feature rows) with no paid order since lapsed_since, a visit/cart/favourite since intent_since on a category they bought before
-- features: the gate's feature rows (gate layer over the day's base layer) and the day's history part (part_lapsed_members_category_intent.sql: intent events before 00:00 on a bought category); a customer with a visit/cart/favourite since 00:00 (last_vcf_at) is probed for today's events only; same members as ../lapsed_members_category_intent.sql
-- binds: sale_id, base_layer, gate_layer, as_of, lapsed_since, part_layer, today_since (the later of intent_since and the day's 00:00)
SELECT f.customer_id
FROM (
    -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
) f
-- CASE fixes the order (a plain AND/OR may be evaluated in any order once the condition is one bit of
-- a batch): the row's own columns first, then the day's part, and only for a lapsed member with a
-- visit/cart/favourite since 00:00 the probe of today's events and the categories bought
WHERE CASE WHEN f.member_since <= :as_of
             AND f.first_paid_at IS NOT NULL
             AND (f.last_paid_at IS NULL OR f.last_paid_at < :lapsed_since)
           THEN CASE WHEN f.customer_id IN (SELECT p.customer_id FROM crowd_part_rows p
                                            WHERE p.sale_id = :sale_id AND p.layer = :part_layer) THEN 1 = 1
                     WHEN f.last_vcf_at >= :today_since THEN EXISTS (
                         SELECT 1
                         FROM events e
                         LEFT JOIN skus s ON s.sku_id = e.sku_id
                         WHERE e.customer_id = f.customer_id
                           AND e.event_type IN ('visit', 'cart', 'favourite')
                           AND e.occurred_at >= :today_since AND e.occurred_at <= :as_of
                           AND COALESCE(e.category, s.category) IN (
                               SELECT i.category
                               FROM orders o
                               JOIN order_items i ON i.order_id = o.order_id
                               WHERE o.customer_id = f.customer_id
                                 AND (o.paid_at <= :as_of OR (o.paid_at IS NULL AND o.balance_paid_at <= :as_of))))
                     ELSE 1 = 0 END
           ELSE 1 = 0 END
