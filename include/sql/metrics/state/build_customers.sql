-- Per-customer state, one pass over customers, orders and events (dacu/metrics/state.py deletes the
-- old rows first, in the same transaction). Answers, for any moment, without reading history again:
--   known by t      (whole_store crowd)  first_known_at < t
--   old on ref day  (old crowd)          first_pay_at < ref_at
--   member / fan by t                    member_since < t / fan_since < t
-- Payment moment as in crowd_funnel.sql: presale at its balance (COALESCE(balance_paid_at, paid_at)).
-- Binds: none.
INSERT INTO metric_customer_state (customer_id, first_known_at, first_pay_at, member_since, fan_since)
SELECT t.customer_id, MIN(t.known_at), MIN(t.pay_at), MAX(t.member_since), MAX(t.fan_since)
FROM (
    SELECT customer_id, first_seen_at AS known_at, CAST(NULL AS TIMESTAMP) AS pay_at,
           member_since, fan_since
    FROM customers
    UNION ALL
    SELECT customer_id, member_since, NULL, NULL, NULL FROM customers WHERE member_since IS NOT NULL
    UNION ALL
    SELECT customer_id, fan_since, NULL, NULL, NULL FROM customers WHERE fan_since IS NOT NULL
    UNION ALL
    SELECT customer_id, created_at,
           CASE WHEN is_presale THEN COALESCE(balance_paid_at, paid_at) ELSE paid_at END, NULL, NULL
    FROM orders
    UNION ALL
    SELECT customer_id, occurred_at, NULL, NULL, NULL FROM events
) t
GROUP BY t.customer_id
