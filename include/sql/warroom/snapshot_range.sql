-- Published metric snapshot rows (one per crowd) of one range. Binds: sale_id, day_from, day_to.
SELECT *
FROM metric_snapshots
WHERE sale_id = :sale_id AND day_from = :day_from AND day_to = :day_to
