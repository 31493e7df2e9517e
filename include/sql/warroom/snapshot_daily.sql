-- Published single-day snapshots of the sale's days in [day_from, day_to] (the daily trend).
-- Binds: sale_id, day_from, day_to.
SELECT *
FROM metric_snapshots
WHERE sale_id = :sale_id AND day_from = day_to AND day_from >= :day_from AND day_from <= :day_to
ORDER BY day_from, crowd
