-- Seed 000 §四 crowd sizes and store-level RV counts at the range's moments, from the incremental
-- state (dacu/metrics/state.py) instead of the whole history. Same figures as crowd_funnel.sql
-- (crowd_size of whole_store / old / members / fans) and store_rv.sql (the RV counts); their buyers
-- and amounts come from day/crowds.sql.
-- Binds (naive UTC): start_at, end_at (exclusive), ref_at; tz, window_days, start_day, end_day
-- (local day numbers of start_at / end_at, see state/build_spells.sql).
WITH sizes AS (
    SELECT COUNT(CASE WHEN first_known_at < :end_at THEN 1 END) AS whole_store_size,
           COUNT(CASE WHEN first_pay_at < :ref_at THEN 1 END) AS old_size,
           COUNT(CASE WHEN member_since < :end_at THEN 1 END) AS members_size,
           COUNT(CASE WHEN fan_since < :end_at THEN 1 END) AS fans_size,
           COUNT(CASE WHEN member_since < :start_at OR fan_since < :start_at THEN 1 END) AS rv_start
    FROM metric_customer_state
),
act AS (
    -- spells of one customer never overlap, so a day lies in at most one: COUNT needs no DISTINCT
    SELECT COUNT(CASE WHEN from_day <= :start_day AND to_day >= :start_day
                       AND (member_since < :start_at OR fan_since < :start_at) THEN 1 END) AS active_rv_start,
           COUNT(CASE WHEN from_day <= :end_day AND to_day >= :end_day
                       AND member_since < :end_at THEN 1 END) AS active_members,
           COUNT(CASE WHEN from_day <= :end_day AND to_day >= :end_day AND fan_since < :end_at
                       AND (member_since IS NULL OR member_since >= :end_at) THEN 1 END) AS active_fans_excl_members
    FROM metric_active_spells
    WHERE tz = :tz AND window_days = :window_days AND to_day >= :start_day
)
SELECT sizes.whole_store_size, sizes.old_size, sizes.members_size, sizes.fans_size, sizes.rv_start,
       act.active_rv_start, act.active_members, act.active_fans_excl_members
FROM sizes CROSS JOIN act
