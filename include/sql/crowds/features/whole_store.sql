-- definition: known to the shop as of the moment
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../whole_store.sql
-- binds: sale_id, base_layer, gate_layer, as_of
SELECT f.customer_id
FROM (
    -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
) f
WHERE f.known_since <= :as_of
