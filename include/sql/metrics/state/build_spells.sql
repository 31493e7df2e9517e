-- Activity spells of the RV customers (members or fans, ever) for one timezone and window
-- (dacu/metrics/state.py deletes the key's rows first, in the same transaction).
-- "Active at 00:00 of local day X" (store_rv.sql) = a visit event or a payment in the window_days local
-- days before X, i.e. an activity on a local day d with d + 1 <= X <= d + window_days. Activities whose
-- intervals overlap or touch merge into one spell [first d + 1, last d + window_days].
-- Local day of a naive-UTC moment a: metric_day_calendar row of DATE(a), split at the local midnights
-- inside that UTC date (day numbers are date.toordinal(), computed in Python with the zone).
-- Only activity from since_at (00:00 of local day number covers_from) on is read: the spells then answer
-- every day X >= covers_from + window_days (dacu/metrics/state.py widens covers_from when asked for earlier).
-- Orders are found by paid_at (indexed) and, for presale balances paid at another moment, through
-- metric_offindex_rows (built with the per-customer state of the same data mark).
-- Binds: tz, window_days, since_at (naive UTC).
INSERT INTO metric_active_spells (tz, window_days, customer_id, spell_no, from_day, to_day, member_since, fan_since)
WITH moments AS (
    -- the RV columns travel with every moment: no join back to customers at the end
    SELECT e.customer_id, e.occurred_at AS moment_at, c.member_since, c.fan_since
    FROM customers c JOIN events e ON e.customer_id = c.customer_id
    WHERE (c.member_since IS NOT NULL OR c.fan_since IS NOT NULL)
      AND e.event_type = 'visit' AND e.occurred_at >= :since_at
    UNION ALL
    SELECT p.customer_id, p.moment_at, p.member_since, p.fan_since
    FROM (SELECT o.customer_id,
                 CASE WHEN o.is_presale THEN COALESCE(o.balance_paid_at, o.paid_at) ELSE o.paid_at END AS moment_at,
                 c.member_since, c.fan_since
          FROM customers c JOIN orders o ON o.customer_id = c.customer_id
          WHERE (c.member_since IS NOT NULL OR c.fan_since IS NOT NULL) AND o.paid_at >= :since_at
          UNION ALL
          SELECT x.customer_id, x.row_at, c.member_since, c.fan_since
          FROM metric_offindex_rows x JOIN customers c ON c.customer_id = x.customer_id
          WHERE (c.member_since IS NOT NULL OR c.fan_since IS NOT NULL)
            AND x.row_kind = 'order' AND x.row_at >= :since_at) p
    WHERE p.moment_at >= :since_at
),
days AS (
    SELECT DISTINCT m.customer_id, m.member_since, m.fan_since,
           CASE WHEN c.split1 IS NULL OR m.moment_at < c.split1 THEN c.day0
                WHEN c.split2 IS NULL OR m.moment_at < c.split2 THEN c.day1
                ELSE c.day2 END AS day_no
    -- CROSS JOIN: SQLite keeps this order (moments outer, a calendar key lookup each); PostgreSQL plans freely
    FROM moments m CROSS JOIN metric_day_calendar c
    WHERE c.tz = :tz AND c.utc_date = DATE(m.moment_at)
),
marked AS (
    SELECT customer_id, member_since, fan_since, day_no,
           CASE WHEN LAG(day_no) OVER (PARTITION BY customer_id ORDER BY day_no) >= day_no - :window_days
                THEN 0 ELSE 1 END AS starts
    FROM days
),
numbered AS (
    SELECT customer_id, member_since, fan_since, day_no,
           SUM(starts) OVER (PARTITION BY customer_id ORDER BY day_no ROWS UNBOUNDED PRECEDING) AS spell_no
    FROM marked
)
SELECT :tz, :window_days, customer_id, spell_no, MIN(day_no) + 1, MAX(day_no) + :window_days,
       MAX(member_since), MAX(fan_since)
FROM numbered
GROUP BY customer_id, spell_no
