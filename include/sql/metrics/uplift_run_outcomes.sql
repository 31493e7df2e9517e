-- Uplift of one segment run: treated vs holdout customers of the frozen crowd snapshot, and what they
-- paid inside the attribution window [start_at, end_at) (gate moment .. + metrics.attribution_days).
-- Payment moment as in the snapshot metrics: a presale order counts at its balance payment, at
-- deposit + balance (orders.amount). Refunds do not reduce it (the seed counts payments).
-- Binds: sale_id, strategy_id, run_key; start_at / end_at (naive UTC).
-- One row per arm: customers, converters (paid at least once), gmv and the sum of squared per-customer
-- gmv (for Welch's variance), so the interval is computed without moving customer rows out.
WITH members AS (
    SELECT customer_id, CASE WHEN is_holdout THEN 1 ELSE 0 END AS holdout
    FROM crowd_snapshots
    WHERE sale_id = :sale_id AND strategy_id = :strategy_id AND run_key = :run_key
),
paid AS (
    SELECT o.customer_id, o.amount
    FROM orders o
    JOIN members m ON m.customer_id = o.customer_id
    WHERE (CASE WHEN o.is_presale THEN COALESCE(o.balance_paid_at, o.paid_at) ELSE o.paid_at END) >= :start_at
      AND (CASE WHEN o.is_presale THEN COALESCE(o.balance_paid_at, o.paid_at) ELSE o.paid_at END) < :end_at
),
per_customer AS (
    SELECT m.customer_id, m.holdout, COUNT(p.customer_id) AS orders, COALESCE(SUM(p.amount), 0) AS gmv
    FROM members m
    LEFT JOIN paid p ON p.customer_id = m.customer_id
    GROUP BY m.customer_id, m.holdout
)
SELECT holdout,
       COUNT(*) AS customers,
       SUM(CASE WHEN orders > 0 THEN 1 ELSE 0 END) AS converters,
       COALESCE(SUM(gmv), 0) AS gmv,
       COALESCE(SUM(gmv * gmv), 0) AS gmv_sq
FROM per_customer
GROUP BY holdout
