-- definition: known as of the moment and no paid order before old_before
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../new_customers.sql
-- binds: sale_id, base_layer, gate_layer, as_of, old_before
SELECT f.customer_id
FROM (
    -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
) f
WHERE f.known_since <= :as_of
  AND (f.first_paid_at IS NULL OR f.first_paid_at >= :old_before)
