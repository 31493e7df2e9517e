-- Published warm-up rows (new / old per day) in [day_from, day_to]. Binds: sale_id, day_from, day_to.
SELECT *
FROM metric_warmup_daily
WHERE sale_id = :sale_id AND metric_day >= :day_from AND metric_day <= :day_to
ORDER BY metric_day, crowd
