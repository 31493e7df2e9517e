-- definition: first paid order ever in [start, end)
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../sale_new_customers.sql
-- binds: sale_id, base_layer, gate_layer, as_of, start, end
SELECT f.customer_id
FROM (
    -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
) f
WHERE f.first_paid_at >= :start AND f.first_paid_at < :end
