-- The ranges that have a published snapshot (what the day / range picker offers). Binds: sale_id.
SELECT DISTINCT day_from, day_to
FROM metric_snapshots
WHERE sale_id = :sale_id
ORDER BY day_to DESC, day_from DESC
