-- definition: subscription fans as of the moment (fan_since <= as_of)
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../fans.sql
-- binds: sale_id, base_layer, gate_layer, as_of
SELECT f.customer_id
FROM (
    -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
) f
WHERE f.fan_since <= :as_of
