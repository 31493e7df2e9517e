-- definition: the per-customer crowd features of one gate moment (sale_id, as_of), in one pass over orders (all history up to as_of), events (the last 30 days up to as_of) and customers; dacu/crowds/features.py deletes the key's rows first, in the same transaction
-- paid order: COALESCE(paid_at, balance_paid_at) <= as_of (a presale order counts when its balance is paid)
-- binds: sale_id, as_of, d90, d180, d365, ev_since, v7, v14, v30, y1_from, y2_from, y3_from, y_to
INSERT INTO crowd_features (
    sale_id, as_of, customer_id, in_customers, is_known, member_since, first_paid_at, last_paid_at,
    paid_orders_90, paid_orders_180, paid_orders_365, paid_orders_all,
    paid_amount_90, paid_amount_180, paid_amount_365, paid_amount_all,
    paid_amount_y1, paid_amount_y2, paid_amount_y3, open_deposit_at,
    last_visit_at, last_vcf_at, last_cf_at, last_cfc_at, visits_7, visits_14, visits_30)
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
           MAX(o.open_deposit_at) AS open_deposit_at
    FROM (
        SELECT r.customer_id, r.created_at, r.amount,
               CASE WHEN COALESCE(r.paid_at, r.balance_paid_at) <= :as_of
                    THEN COALESCE(r.paid_at, r.balance_paid_at) END AS pt,
               CASE WHEN r.is_presale = TRUE AND r.deposit_paid_at <= :as_of
                     AND (r.balance_paid_at IS NULL OR r.balance_paid_at > :as_of)
                     AND (r.paid_at IS NULL OR r.paid_at > :as_of)
                     AND (r.closed_at IS NULL OR r.closed_at > :as_of)
                     AND (r.refunded_at IS NULL OR r.refunded_at > :as_of)
                    THEN r.deposit_paid_at END AS open_deposit_at
        FROM orders r
        WHERE r.created_at <= :as_of OR r.paid_at <= :as_of OR r.balance_paid_at <= :as_of
           OR r.deposit_paid_at <= :as_of
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
      AND e.occurred_at >= :ev_since AND e.occurred_at <= :as_of
    GROUP BY e.customer_id
)
SELECT :sale_id, :as_of, k.customer_id,
       CASE WHEN c.customer_id IS NULL THEN 0 ELSE 1 END,
       CASE WHEN c.first_seen_at <= :as_of OR c.member_since <= :as_of OR c.fan_since <= :as_of
              OR c.live_fan_since <= :as_of OR o.first_created_at <= :as_of THEN 1 ELSE 0 END,
       c.member_since, o.first_paid_at, o.last_paid_at,
       COALESCE(o.paid_orders_90, 0), COALESCE(o.paid_orders_180, 0), COALESCE(o.paid_orders_365, 0),
       COALESCE(o.paid_orders_all, 0),
       o.paid_amount_90, o.paid_amount_180, o.paid_amount_365, o.paid_amount_all,
       o.paid_amount_y1, o.paid_amount_y2, o.paid_amount_y3, o.open_deposit_at,
       e.last_visit_at, e.last_vcf_at, e.last_cf_at, e.last_cfc_at,
       COALESCE(e.visits_7, 0), COALESCE(e.visits_14, 0), COALESCE(e.visits_30, 0)
FROM (
    SELECT customer_id FROM customers
    UNION
    SELECT customer_id FROM oagg
    UNION
    SELECT customer_id FROM eagg
) k
LEFT JOIN customers c ON c.customer_id = k.customer_id
LEFT JOIN oagg o ON o.customer_id = k.customer_id
LEFT JOIN eagg e ON e.customer_id = k.customer_id
