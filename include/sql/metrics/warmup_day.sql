-- Seed 002: the daily warm-up view, new vs old, for one sale-local day.
-- Binds (naive UTC): start_at / end_at the day (end exclusive); ref_at 00:00 of the reference day.
-- New/old as in crowd_funnel.sql, with the day as the range.
WITH paid AS (
    SELECT o.customer_id,
           CASE WHEN o.is_presale THEN COALESCE(o.balance_paid_at, o.paid_at) ELSE o.paid_at END AS pay_at
    FROM orders o
),
old_customers AS (
    SELECT DISTINCT customer_id FROM paid WHERE pay_at < :ref_at
),
day_events AS (
    SELECT customer_id,
           MAX(CASE WHEN event_type = 'visit' THEN 1 ELSE 0 END) AS visited,
           MAX(CASE WHEN event_type = 'favourite' THEN 1 ELSE 0 END) AS favourited,
           MAX(CASE WHEN event_type = 'cart' THEN 1 ELSE 0 END) AS carted,
           SUM(CASE WHEN event_type = 'coupon_claim' THEN 1 ELSE 0 END) AS coupons
    FROM events
    WHERE occurred_at >= :start_at AND occurred_at < :end_at
    GROUP BY customer_id
),
day_buyers AS (
    SELECT DISTINCT customer_id FROM paid WHERE pay_at >= :start_at AND pay_at < :end_at
),
active AS (
    SELECT customer_id FROM day_events
    UNION SELECT customer_id FROM orders WHERE created_at >= :start_at AND created_at < :end_at
    UNION SELECT customer_id FROM orders WHERE deposit_paid_at >= :start_at AND deposit_paid_at < :end_at
    UNION SELECT customer_id FROM day_buyers
),
crowd_members AS (
    SELECT 'old' AS crowd, customer_id FROM old_customers
    UNION ALL
    SELECT 'new' AS crowd, a.customer_id FROM active a
    WHERE NOT EXISTS (SELECT 1 FROM old_customers oc WHERE oc.customer_id = a.customer_id)
)
SELECT cm.crowd,
       COALESCE(SUM(e.visited), 0) AS visitors,
       COALESCE(SUM(e.favourited), 0) AS favourite_customers,
       COALESCE(SUM(e.carted), 0) AS cart_customers,
       COUNT(b.customer_id) AS buyers,
       COALESCE(SUM(e.coupons), 0) AS coupons_claimed
FROM crowd_members cm
LEFT JOIN day_events e ON e.customer_id = cm.customer_id
LEFT JOIN day_buyers b ON b.customer_id = cm.customer_id
GROUP BY cm.crowd
