-- definition: treated customers of a segment run who paid an order (or a presale balance) after the segment moment and by the send time
-- binds: sale_id, strategy_id, run_key, as_of, send_time, ranged, id_from, id_to (ranged = 1: only ids in [id_from, id_to], a dispatcher page)
SELECT DISTINCT s.customer_id
FROM crowd_snapshots s
JOIN orders o ON o.customer_id = s.customer_id
WHERE s.sale_id = :sale_id AND s.strategy_id = :strategy_id AND s.run_key = :run_key
  AND s.is_holdout = FALSE
  AND (:ranged = 0 OR (s.customer_id >= :id_from AND s.customer_id <= :id_to))
  AND ((o.paid_at > :as_of AND o.paid_at <= :send_time)
    OR (o.paid_at IS NULL AND o.balance_paid_at > :as_of AND o.balance_paid_at <= :send_time))
