-- definition: members as of the moment (member_since <= as_of) at member_level >= min_level (the current level)
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../members.sql
-- binds: sale_id, base_layer, gate_layer, as_of, min_level
SELECT f.customer_id
FROM (
    -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
) f
WHERE f.member_since <= :as_of
  AND f.member_level >= :min_level
