-- Seed 000 §四 per crowd over [start_at, end_at), from the range's own rows plus keyed lookups into
-- metric_customer_state (dacu/metrics/state.py). Same figures as the reference crowd_funnel.sql and
-- warmup_day.sql (tests/test_metrics_incremental.py compares them); the crowd sizes of whole_store,
-- old, members and fans come from day/store.sql.
-- Binds (naive UTC): start_at, end_at (exclusive), ref_at (00:00 of the sale's reference day);
--   tz, window_days (metric_active_spells key), start_day / end_day (local day numbers of start_at and
--   end_at: "active RV at start" / "active member or fan at end", see state/build_spells.sql).
-- Rows: per combination of the active customers' crowd flags, their counts and amounts; compute.py
-- folds them into one row per crowd plus 'all_active' (no crowd filter: the store's buyers, paid amount
-- and visitors) and the buyers of the store-level RV crowds ('active_rv_start', 'active_members_end',
-- 'active_fans_end': paying_buyers / paid_amount).
-- active = customers who visited (any store event) or transacted (order created, deposit, payment)
-- in the range; every activity figure is a subset of it.
WITH day_orders AS (
    -- the orders with a moment in the range, each once: the branches use the indexes of paid_at /
    -- created_at / deposit_paid_at and exclude what an earlier branch found (no sort to de-duplicate);
    -- presale balances paid at another moment than paid_at come from metric_offindex_rows.
    -- pay_at: the payment moment of crowd_funnel.sql
    SELECT o.customer_id, o.amount, o.is_presale, o.created_at, o.deposit_paid_at,
           CASE WHEN o.is_presale THEN COALESCE(o.balance_paid_at, o.paid_at) ELSE o.paid_at END AS pay_at
    FROM orders o WHERE o.paid_at >= :start_at AND o.paid_at < :end_at
    UNION ALL
    SELECT o.customer_id, o.amount, o.is_presale, o.created_at, o.deposit_paid_at,
           CASE WHEN o.is_presale THEN COALESCE(o.balance_paid_at, o.paid_at) ELSE o.paid_at END
    FROM orders o WHERE o.created_at >= :start_at AND o.created_at < :end_at
      AND (o.paid_at IS NULL OR o.paid_at < :start_at OR o.paid_at >= :end_at)
    UNION ALL
    SELECT o.customer_id, o.amount, o.is_presale, o.created_at, o.deposit_paid_at,
           CASE WHEN o.is_presale THEN COALESCE(o.balance_paid_at, o.paid_at) ELSE o.paid_at END
    FROM orders o WHERE o.deposit_paid_at >= :start_at AND o.deposit_paid_at < :end_at
      AND (o.paid_at IS NULL OR o.paid_at < :start_at OR o.paid_at >= :end_at)
      AND (o.created_at < :start_at OR o.created_at >= :end_at)
    UNION ALL
    SELECT o.customer_id, o.amount, o.is_presale, o.created_at, o.deposit_paid_at,
           CASE WHEN o.is_presale THEN COALESCE(o.balance_paid_at, o.paid_at) ELSE o.paid_at END
    FROM metric_offindex_rows x JOIN orders o ON o.order_id = x.row_id
    WHERE x.row_kind = 'order' AND x.row_at >= :start_at AND x.row_at < :end_at
      AND (o.paid_at IS NULL OR o.paid_at < :start_at OR o.paid_at >= :end_at)
      AND (o.created_at < :start_at OR o.created_at >= :end_at)
      AND (o.deposit_paid_at IS NULL OR o.deposit_paid_at < :start_at OR o.deposit_paid_at >= :end_at)
),
ev AS (
    -- by type so the (event_type, occurred_at) index serves; other types are in metric_offindex_rows
    SELECT customer_id, event_type, occurred_at FROM events
    WHERE event_type IN ('visit', 'cart', 'favourite', 'coupon_claim')
      AND occurred_at >= :start_at AND occurred_at < :end_at
),
first_cart AS (
    SELECT customer_id, MIN(occurred_at) AS first_cart_at FROM ev WHERE event_type = 'cart' GROUP BY customer_id
),
facts AS (
    -- one row per event or order of the range; per_customer folds them (one aggregate, no join chain)
    SELECT customer_id, 1 AS evented, 0 AS created,
           CASE WHEN event_type = 'visit' THEN 1 ELSE 0 END AS visited,
           CASE WHEN event_type = 'favourite' THEN 1 ELSE 0 END AS favourited,
           CASE WHEN event_type = 'cart' THEN 1 ELSE 0 END AS carted,
           CASE WHEN event_type = 'coupon_claim' THEN 1 ELSE 0 END AS coupons,
           0 AS deposited, 0 AS paid, 0 AS paid_balance, 0 AS paid_deposit_and_balance,
           0 AS presale_amount, 0 AS paid_amount, 0 AS cart_paid, 0 AS cart_paid_amount
    FROM ev
    UNION ALL
    SELECT customer_id, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    FROM metric_offindex_rows
    WHERE row_kind = 'event' AND row_at >= :start_at AND row_at < :end_at
    UNION ALL
    SELECT o.customer_id, 0,
           CASE WHEN o.created_at >= :start_at AND o.created_at < :end_at THEN 1 ELSE 0 END,
           0, 0, 0, 0,
           CASE WHEN o.deposit_paid_at >= :start_at AND o.deposit_paid_at < :end_at THEN 1 ELSE 0 END,
           CASE WHEN o.pay_at >= :start_at AND o.pay_at < :end_at THEN 1 ELSE 0 END,
           CASE WHEN o.pay_at >= :start_at AND o.pay_at < :end_at AND o.is_presale THEN 1 ELSE 0 END,
           CASE WHEN o.pay_at >= :start_at AND o.pay_at < :end_at AND o.is_presale
                 AND o.deposit_paid_at >= :start_at AND o.deposit_paid_at < :end_at THEN 1 ELSE 0 END,
           CASE WHEN o.pay_at >= :start_at AND o.pay_at < :end_at AND o.is_presale THEN o.amount ELSE 0 END,
           CASE WHEN o.pay_at >= :start_at AND o.pay_at < :end_at THEN o.amount ELSE 0 END,
           -- paid strictly after the customer's first add-to-cart of the range, any item
           CASE WHEN o.pay_at >= :start_at AND o.pay_at < :end_at AND o.pay_at > fc.first_cart_at
                THEN 1 ELSE 0 END,
           CASE WHEN o.pay_at >= :start_at AND o.pay_at < :end_at AND o.pay_at > fc.first_cart_at
                THEN o.amount ELSE 0 END
    FROM day_orders o LEFT JOIN first_cart fc ON fc.customer_id = o.customer_id
),
per_customer AS (
    SELECT customer_id, MAX(evented) AS evented, MAX(created) AS created, MAX(visited) AS visited,
           MAX(favourited) AS favourited, MAX(carted) AS carted, SUM(coupons) AS coupons,
           MAX(deposited) AS deposited, MAX(paid) AS paid, MAX(paid_balance) AS paid_balance,
           MAX(paid_deposit_and_balance) AS paid_deposit_and_balance, SUM(presale_amount) AS presale_amount,
           SUM(paid_amount) AS paid_amount, MAX(cart_paid) AS cart_paid, SUM(cart_paid_amount) AS cart_paid_amount
    FROM facts
    GROUP BY customer_id
    -- active: visited (any store event) or transacted (order created, deposit, payment) in the range
    HAVING MAX(evented) = 1 OR MAX(created) = 1 OR MAX(deposited) = 1 OR MAX(paid) = 1
),
rv_flags AS (
    -- keyed lookups of the active customers' spells (a customer has at most one spell covering a day)
    SELECT a.customer_id,
           MAX(CASE WHEN sp.from_day <= :start_day AND sp.to_day >= :start_day
                     AND (sp.member_since < :start_at OR sp.fan_since < :start_at) THEN 1 ELSE 0 END) AS rv_start,
           MAX(CASE WHEN sp.from_day <= :end_day AND sp.to_day >= :end_day
                     AND sp.member_since < :end_at THEN 1 ELSE 0 END) AS member_end,
           MAX(CASE WHEN sp.from_day <= :end_day AND sp.to_day >= :end_day AND sp.fan_since < :end_at
                     AND (sp.member_since IS NULL OR sp.member_since >= :end_at) THEN 1 ELSE 0 END) AS fan_end
    FROM per_customer a
    JOIN metric_active_spells sp
      ON sp.tz = :tz AND sp.window_days = :window_days AND sp.customer_id = a.customer_id
    GROUP BY a.customer_id
),
flagged AS (
    SELECT p.*,
           -- known by the end: the state's first moment, or this range's own event / order creation
           -- (so a customer first seen in the range is known even before the state catches up)
           CASE WHEN s.first_known_at < :end_at OR p.evented = 1 OR p.created = 1 THEN 1 ELSE 0 END AS known,
           CASE WHEN s.first_pay_at < :ref_at THEN 1 ELSE 0 END AS old,
           CASE WHEN s.member_since < :end_at THEN 1 ELSE 0 END AS member,
           CASE WHEN s.fan_since < :end_at THEN 1 ELSE 0 END AS fan,
           COALESCE(rf.rv_start, 0) AS rv_start,
           COALESCE(rf.member_end, 0) AS member_end,
           COALESCE(rf.fan_end, 0) AS fan_end
    FROM per_customer p
    LEFT JOIN metric_customer_state s ON s.customer_id = p.customer_id
    LEFT JOIN rv_flags rf ON rf.customer_id = p.customer_id
)
-- one row per combination of crowd flags (at most 2^7): dacu/metrics/compute.py adds the rows of each
-- crowd (one aggregate pass instead of one copy of every customer per crowd)
SELECT known, old, member, fan, rv_start, member_end, fan_end,
       COUNT(*) AS active_customers,
       SUM(visited) AS visitors,
       SUM(carted) AS cart_buyers,
       SUM(deposited) AS deposit_buyers,
       SUM(paid_balance) AS balance_buyers,
       SUM(paid_deposit_and_balance) AS deposit_balance_buyers,
       SUM(presale_amount) AS presale_paid_amount,
       SUM(cart_paid) AS cart_paid_buyers,
       SUM(cart_paid_amount) AS cart_paid_amount,
       SUM(paid) AS paying_buyers,
       SUM(paid_amount) AS paid_amount,
       SUM(favourited) AS favourite_customers,
       SUM(coupons) AS coupons_claimed
FROM flagged
GROUP BY known, old, member, fan, rv_start, member_end, fan_end
