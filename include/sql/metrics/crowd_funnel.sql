-- Seed 000 §四: the per-crowd funnel over one range of sale-local days.
-- Binds (naive UTC, computed in Python from Asia/Shanghai days):
--   start_at  00:00 of the range's first day      end_at  00:00 after its last day (exclusive)
--   ref_at    00:00 of the sale's reference day (old customers = a payment before it)
-- One row per non-empty crowd; docs/metrics.md has each definition.
WITH paid AS (
    -- A payment: a normal order's paid_at; a presale order counts when its
    -- balance is paid, at its full amount (deposit + balance).
    SELECT o.customer_id, o.amount, o.is_presale, o.deposit_paid_at,
           CASE WHEN o.is_presale THEN COALESCE(o.balance_paid_at, o.paid_at) ELSE o.paid_at END AS pay_at
    FROM orders o
),
range_paid AS (
    SELECT customer_id, amount, is_presale, deposit_paid_at, pay_at
    FROM paid
    WHERE pay_at >= :start_at AND pay_at < :end_at
),
old_customers AS (
    SELECT DISTINCT customer_id FROM paid WHERE pay_at < :ref_at
),
range_events AS (
    SELECT customer_id, event_type, occurred_at
    FROM events
    WHERE occurred_at >= :start_at AND occurred_at < :end_at
),
visitors AS (
    SELECT DISTINCT customer_id FROM range_events WHERE event_type = 'visit'
),
carts AS (
    -- deletions and quantity edits are not in the warehouse: every cart event is an addition
    SELECT customer_id, MIN(occurred_at) AS first_cart_at
    FROM range_events WHERE event_type = 'cart'
    GROUP BY customer_id
),
deposits AS (
    SELECT DISTINCT customer_id FROM orders
    WHERE deposit_paid_at >= :start_at AND deposit_paid_at < :end_at
),
buyers AS (
    SELECT customer_id,
           SUM(amount) AS paid_amount,
           SUM(CASE WHEN is_presale THEN amount ELSE 0 END) AS presale_amount,
           MAX(CASE WHEN is_presale THEN 1 ELSE 0 END) AS paid_balance,
           MAX(CASE WHEN is_presale AND deposit_paid_at >= :start_at AND deposit_paid_at < :end_at
                    THEN 1 ELSE 0 END) AS paid_deposit_and_balance
    FROM range_paid
    GROUP BY customer_id
),
cart_paid AS (
    -- paid strictly after the first add-to-cart of the range, any item
    SELECT p.customer_id, SUM(p.amount) AS amount
    FROM range_paid p
    JOIN carts c ON c.customer_id = p.customer_id AND p.pay_at > c.first_cart_at
    GROUP BY p.customer_id
),
active AS (
    -- "visited or transacted" in the range: any store event, an order created,
    -- a deposit or a payment (defines the new crowd)
    SELECT customer_id FROM range_events
    UNION SELECT customer_id FROM orders WHERE created_at >= :start_at AND created_at < :end_at
    UNION SELECT customer_id FROM deposits
    UNION SELECT customer_id FROM range_paid
),
known AS (
    SELECT customer_id FROM customers
    WHERE first_seen_at < :end_at OR member_since < :end_at OR fan_since < :end_at
    UNION SELECT customer_id FROM orders WHERE created_at < :end_at
    UNION SELECT customer_id FROM events WHERE occurred_at < :end_at
),
crowd_members AS (
    SELECT 'whole_store' AS crowd, customer_id FROM known
    UNION ALL
    SELECT 'old' AS crowd, customer_id FROM old_customers
    UNION ALL
    SELECT 'new' AS crowd, a.customer_id FROM active a
    WHERE NOT EXISTS (SELECT 1 FROM old_customers oc WHERE oc.customer_id = a.customer_id)
    UNION ALL
    SELECT 'members' AS crowd, customer_id FROM customers WHERE member_since < :end_at
    UNION ALL
    SELECT 'fans' AS crowd, customer_id FROM customers WHERE fan_since < :end_at
)
SELECT cm.crowd,
       COUNT(*) AS crowd_size,
       COUNT(v.customer_id) AS visitors,
       COUNT(c.customer_id) AS cart_buyers,
       COUNT(d.customer_id) AS deposit_buyers,
       COALESCE(SUM(b.paid_balance), 0) AS balance_buyers,
       COALESCE(SUM(b.paid_deposit_and_balance), 0) AS deposit_balance_buyers,
       COALESCE(SUM(b.presale_amount), 0) AS presale_paid_amount,
       COUNT(cp.customer_id) AS cart_paid_buyers,
       COALESCE(SUM(cp.amount), 0) AS cart_paid_amount,
       COUNT(b.customer_id) AS paying_buyers,
       COALESCE(SUM(b.paid_amount), 0) AS paid_amount
FROM crowd_members cm
LEFT JOIN visitors v ON v.customer_id = cm.customer_id
LEFT JOIN carts c ON c.customer_id = cm.customer_id
LEFT JOIN deposits d ON d.customer_id = cm.customer_id
LEFT JOIN buyers b ON b.customer_id = cm.customer_id
LEFT JOIN cart_paid cp ON cp.customer_id = cm.customer_id
GROUP BY cm.crowd
