-- definition: customers known as of the moment (first seen) with an 11-digit mainland mobile number (starts with 1)
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../mobile_customers.sql
-- binds: sale_id, base_layer, gate_layer, as_of
SELECT f.customer_id
FROM (
    -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
) f
WHERE f.mobile_seen_at <= :as_of
