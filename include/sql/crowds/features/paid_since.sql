-- definition: a paid order since `since` up to as_of (active_recent_buyers, paid_in_sale; sale_buyers and last_year_sale_buyers when their window reaches as_of)
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../active_recent_buyers/paid_in_sale/sale_buyers/last_year_sale_buyers.sql
-- binds: sale_id, base_layer, gate_layer, as_of, since
SELECT f.customer_id
FROM (
    -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
) f
WHERE f.last_paid_at >= :since
