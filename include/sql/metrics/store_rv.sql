-- Seed 000 §四: store-level relationship (RV = members + fans, distinct) metrics.
-- Binds (naive UTC): start_at / end_at  the range (end exclusive);
--   rv_from   start_at minus active_rv_days (activity window of "active RV at start")
--   act_from  end_at minus active_rv_days (activity window of "active member/fan at end")
-- Active = a visit event or a paid order in the window before the moment in question.
WITH paid AS (
    SELECT o.customer_id, o.amount,
           CASE WHEN o.is_presale THEN COALESCE(o.balance_paid_at, o.paid_at) ELSE o.paid_at END AS pay_at
    FROM orders o
),
range_buyers AS (
    SELECT customer_id, SUM(amount) AS amount
    FROM paid WHERE pay_at >= :start_at AND pay_at < :end_at
    GROUP BY customer_id
),
rv_start AS (
    SELECT customer_id FROM customers WHERE member_since < :start_at OR fan_since < :start_at
),
active_at_start AS (
    -- unions and joins, not correlated EXISTS ... OR EXISTS (PostgreSQL runs those per row)
    SELECT customer_id FROM events
    WHERE event_type = 'visit' AND occurred_at >= :rv_from AND occurred_at < :start_at
    UNION
    SELECT customer_id FROM paid WHERE pay_at >= :rv_from AND pay_at < :start_at
),
active_rv_start AS (
    SELECT r.customer_id FROM rv_start r JOIN active_at_start a ON a.customer_id = r.customer_id
),
rv_end AS (
    SELECT customer_id, CASE WHEN member_since < :end_at THEN 1 ELSE 0 END AS is_member
    FROM customers WHERE member_since < :end_at OR fan_since < :end_at
),
active_at_end AS (
    SELECT customer_id FROM events
    WHERE event_type = 'visit' AND occurred_at >= :act_from AND occurred_at < :end_at
    UNION
    SELECT customer_id FROM paid WHERE pay_at >= :act_from AND pay_at < :end_at
),
active_rv_end AS (
    SELECT r.customer_id, r.is_member FROM rv_end r JOIN active_at_end a ON a.customer_id = r.customer_id
)
SELECT
    (SELECT COUNT(*) FROM rv_start) AS rv_start,
    (SELECT COUNT(*) FROM active_rv_start) AS active_rv_start,
    (SELECT COUNT(*) FROM active_rv_start a JOIN range_buyers b ON b.customer_id = a.customer_id)
        AS active_rv_buyers,
    (SELECT COALESCE(SUM(b.amount), 0) FROM active_rv_start a JOIN range_buyers b ON b.customer_id = a.customer_id)
        AS active_rv_amount,
    (SELECT COALESCE(SUM(amount), 0) FROM range_buyers) AS store_paid_amount,
    (SELECT COUNT(*) FROM range_buyers) AS store_buyers,
    (SELECT COUNT(DISTINCT customer_id) FROM events
      WHERE event_type = 'visit' AND occurred_at >= :start_at AND occurred_at < :end_at) AS store_visitors,
    (SELECT COUNT(*) FROM active_rv_end WHERE is_member = 1) AS active_members,
    (SELECT COUNT(*) FROM active_rv_end a JOIN range_buyers b ON b.customer_id = a.customer_id
      WHERE a.is_member = 1) AS active_member_buyers,
    (SELECT COUNT(*) FROM active_rv_end WHERE is_member = 0) AS active_fans_excl_members,
    (SELECT COUNT(*) FROM active_rv_end a JOIN range_buyers b ON b.customer_id = a.customer_id
      WHERE a.is_member = 0) AS active_fan_buyers_excl_members
