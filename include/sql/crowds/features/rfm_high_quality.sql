-- definition: old customers (first paid before old_before), paid since recent_since, >= min_orders paid orders and average >= min_amount in the lookback window (90, 180 or 365 days)
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../rfm_high_quality.sql
-- binds: sale_id, base_layer, gate_layer, as_of, old_before, recent_since, lookback, min_orders, min_amount
SELECT f.customer_id
FROM (
    -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
) f
WHERE f.first_paid_at < :old_before
  AND f.last_paid_at >= :recent_since
  AND (CASE :lookback WHEN 90 THEN f.paid_orders_90 WHEN 180 THEN f.paid_orders_180
                      WHEN 365 THEN f.paid_orders_365 END) >= :min_orders
  AND (CASE :lookback WHEN 90 THEN f.paid_amount_90 WHEN 180 THEN f.paid_amount_180
                      WHEN 365 THEN f.paid_amount_365 END)
      >= :min_amount * (CASE :lookback WHEN 90 THEN f.paid_orders_90 WHEN 180 THEN f.paid_orders_180
                                       WHEN 365 THEN f.paid_orders_365 END)
