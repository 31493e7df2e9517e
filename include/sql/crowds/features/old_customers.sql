-- definition: first paid order before old_before (the reference day, or as_of if earlier)
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../old_customers.sql
-- binds: sale_id, base_layer, gate_layer, as_of, old_before
SELECT f.customer_id
FROM (
    -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
) f
WHERE f.first_paid_at < :old_before
