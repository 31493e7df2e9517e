-- definition: no paid order as of the moment, last visit in [last_visit_from, last_visit_to) with last_visit_from within the 30-day event window
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../new_by_recency.sql
-- binds: sale_id, base_layer, gate_layer, as_of, last_visit_from, last_visit_to
SELECT f.customer_id
FROM (
    -- the gate row of a customer if the gate layer has one, else the day's base row (features.py)
    SELECT g.* FROM crowd_feature_rows g
    WHERE g.sale_id = :sale_id AND g.layer = :gate_layer
    UNION ALL
    SELECT b.* FROM crowd_feature_rows b
    WHERE b.sale_id = :sale_id AND b.layer = :base_layer
      AND NOT EXISTS (SELECT 1 FROM crowd_feature_rows d
                      WHERE d.sale_id = :sale_id AND d.layer = :gate_layer AND d.customer_id = b.customer_id)
) f
WHERE f.first_paid_at IS NULL
  AND f.last_visit_at >= :last_visit_from AND f.last_visit_at < :last_visit_to
