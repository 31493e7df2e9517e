-- definition: the treated (not held out) customers of one segment run, to be sent
-- binds: sale_id, strategy_id, run_key, ranged, id_from, id_to (ranged = 1: only ids in [id_from, id_to], a dispatcher page)
SELECT s.customer_id
FROM crowd_snapshots s
WHERE s.sale_id = :sale_id AND s.strategy_id = :strategy_id AND s.run_key = :run_key
  AND s.is_holdout = FALSE
  AND (:ranged = 0 OR (s.customer_id >= :id_from AND s.customer_id <= :id_to))
