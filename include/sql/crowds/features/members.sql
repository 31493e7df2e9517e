-- definition: members as of the moment (member_since <= as_of) at member_level >= min_level (the current level)
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../members.sql
-- binds: sale_id, base_layer, gate_layer, as_of, min_level
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
WHERE f.member_since <= :as_of
  AND f.member_level >= :min_level
