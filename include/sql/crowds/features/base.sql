-- definition: the base layer of one sale-local day: per customer, the features of orders and events before the day's 00:00 (day_start) - first/last paid order, paid orders and amounts in the 90/180/365-day windows and all history, the 3 calendar years before the day's year, the last visit / visit-cart-fav / cart-fav / cart-fav-coupon times and visit counts of the events since ev_since (30 days) - plus known_since (first seen, member, fan, live fan or first order created: compared with the gate moment) and next_balance_at (see gate.sql); one pass over orders (all of them), the 30-day window of events and customers; dacu/crowds/features.py deletes the layer's rows first, in the same transaction
-- paid order: COALESCE(paid_at, balance_paid_at) (a presale order counts when its balance is paid), before day_start
-- binds: sale_id, layer, day_start, ev_since, d90, d180, d365, v7, v14, v30, y1_from, y2_from, y3_from, y_to
-- no LEAST/GREATEST (not in SQLite): a minimum of nullable values is CASE WHEN y < x THEN y ELSE x END steps
-- @include crowds/features/feature_row_insert
WITH oagg AS (
    SELECT o.customer_id,
           MIN(o.created_at) AS first_created_at,
           MIN(o.pt) AS first_paid_at,
           MAX(o.pt) AS last_paid_at,
           COUNT(CASE WHEN o.pt >= :d90 THEN 1 END) AS paid_orders_90,
           COUNT(CASE WHEN o.pt >= :d180 THEN 1 END) AS paid_orders_180,
           COUNT(CASE WHEN o.pt >= :d365 THEN 1 END) AS paid_orders_365,
           COUNT(o.pt) AS paid_orders_all,
           SUM(CASE WHEN o.pt >= :d90 THEN o.amount END) AS paid_amount_90,
           SUM(CASE WHEN o.pt >= :d180 THEN o.amount END) AS paid_amount_180,
           SUM(CASE WHEN o.pt >= :d365 THEN o.amount END) AS paid_amount_365,
           SUM(CASE WHEN o.pt IS NOT NULL THEN o.amount END) AS paid_amount_all,
           SUM(CASE WHEN o.pt >= :y1_from AND o.pt < :y_to THEN o.amount END) AS paid_amount_y1,
           SUM(CASE WHEN o.pt >= :y2_from AND o.pt < :y1_from THEN o.amount END) AS paid_amount_y2,
           SUM(CASE WHEN o.pt >= :y3_from AND o.pt < :y2_from THEN o.amount END) AS paid_amount_y3,
           MIN(o.balance_at) AS next_balance_at
    FROM (
        SELECT r.customer_id, r.created_at, r.amount,
               CASE WHEN COALESCE(r.paid_at, r.balance_paid_at) < :day_start
                    THEN COALESCE(r.paid_at, r.balance_paid_at) END AS pt,
               CASE WHEN r.paid_at IS NULL AND r.balance_paid_at >= :day_start THEN r.balance_paid_at END AS balance_at
        FROM orders r
    ) o
    GROUP BY o.customer_id
),
eagg AS (
    SELECT e.customer_id,
           MAX(CASE WHEN e.event_type = 'visit' THEN e.occurred_at END) AS last_visit_at,
           MAX(CASE WHEN e.event_type IN ('visit', 'cart', 'favourite') THEN e.occurred_at END) AS last_vcf_at,
           MAX(CASE WHEN e.event_type IN ('cart', 'favourite') THEN e.occurred_at END) AS last_cf_at,
           MAX(CASE WHEN e.event_type IN ('cart', 'favourite', 'coupon_claim') THEN e.occurred_at END) AS last_cfc_at,
           COUNT(CASE WHEN e.event_type = 'visit' AND e.occurred_at >= :v7 THEN 1 END) AS visits_7,
           COUNT(CASE WHEN e.event_type = 'visit' AND e.occurred_at >= :v14 THEN 1 END) AS visits_14,
           COUNT(CASE WHEN e.event_type = 'visit' AND e.occurred_at >= :v30 THEN 1 END) AS visits_30
    FROM events e
    WHERE e.event_type IN ('visit', 'cart', 'favourite', 'coupon_claim')
      AND e.occurred_at >= :ev_since AND e.occurred_at < :day_start
    GROUP BY e.customer_id
),
cust AS (
    -- the earliest of first seen (never NULL), member, fan and live fan
    SELECT x.customer_id, x.member_since, x.member_level, x.fan_since, x.live_fan_since, x.mobile_seen_at,
           CASE WHEN x.q2 < x.q1 THEN x.q2 ELSE x.q1 END AS seen_at
    FROM (
        SELECT c.customer_id, c.member_since, c.member_level, c.fan_since, c.live_fan_since,
               -- mobile_customers.sql: an 11-digit mainland mobile number (starts with 1)
               CASE WHEN c.mobile IS NOT NULL AND LENGTH(c.mobile) = 11 AND c.mobile LIKE '1%'
                    THEN c.first_seen_at END AS mobile_seen_at,
               CASE WHEN c.member_since < c.first_seen_at THEN c.member_since ELSE c.first_seen_at END AS q1,
               CASE WHEN c.fan_since IS NULL OR c.live_fan_since < c.fan_since THEN c.live_fan_since
                    ELSE c.fan_since END AS q2
        FROM customers c
    ) x
)
SELECT :sale_id, :layer, k.customer_id,
       CASE WHEN c.customer_id IS NULL THEN 0 ELSE 1 END,
       CASE WHEN c.seen_at IS NULL OR o.first_created_at < c.seen_at THEN o.first_created_at ELSE c.seen_at END,
       c.member_since, c.member_level, c.fan_since, c.live_fan_since, c.mobile_seen_at,
       o.first_paid_at, o.last_paid_at,
       COALESCE(o.paid_orders_90, 0), COALESCE(o.paid_orders_180, 0), COALESCE(o.paid_orders_365, 0),
       COALESCE(o.paid_orders_all, 0),
       o.paid_amount_90, o.paid_amount_180, o.paid_amount_365, o.paid_amount_all,
       o.paid_amount_y1, o.paid_amount_y2, o.paid_amount_y3,
       e.last_visit_at, e.last_vcf_at, e.last_cf_at, e.last_cfc_at,
       COALESCE(e.visits_7, 0), COALESCE(e.visits_14, 0), COALESCE(e.visits_30, 0),
       o.next_balance_at
FROM (
    SELECT customer_id FROM customers
    UNION
    SELECT customer_id FROM oagg
    UNION
    SELECT customer_id FROM eagg
) k
LEFT JOIN cust c ON c.customer_id = k.customer_id
LEFT JOIN oagg o ON o.customer_id = k.customer_id
LEFT JOIN eagg e ON e.customer_id = k.customer_id
