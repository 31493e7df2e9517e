-- Peer averages (同行同层) imported for one sale-local day.
-- Binds: sale_id, metric_day (date).
SELECT crowd, metric, value
FROM peer_benchmarks
WHERE sale_id = :sale_id AND metric_day = :metric_day
