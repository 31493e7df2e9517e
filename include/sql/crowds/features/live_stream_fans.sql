-- definition: live-stream fans as of the moment; with members_only also members as of the moment
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../live_stream_fans.sql
-- binds: sale_id, base_layer, gate_layer, as_of, members_only (0/1)
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
WHERE f.live_fan_since <= :as_of
  AND (:members_only = 0 OR f.member_since <= :as_of)
