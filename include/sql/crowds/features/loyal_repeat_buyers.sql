-- definition: >= min_orders paid orders in the lookback window (90, 180 or 365 days)
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../loyal_repeat_buyers.sql
-- binds: sale_id, base_layer, gate_layer, as_of, lookback, min_orders
SELECT f.customer_id
FROM (
    -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
) f
WHERE (CASE :lookback WHEN 90 THEN f.paid_orders_90 WHEN 180 THEN f.paid_orders_180
                      WHEN 365 THEN f.paid_orders_365 END) >= :min_orders
