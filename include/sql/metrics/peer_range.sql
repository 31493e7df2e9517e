-- Peer averages (同行同层) imported for a range of sale-local days (every crowd and metric).
-- Binds: sale_id, day_from, day_to (dates, inclusive).
SELECT metric_day, crowd, metric, value
FROM peer_benchmarks
WHERE sale_id = :sale_id AND metric_day >= :day_from AND metric_day <= :day_to
