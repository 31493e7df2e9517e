-- definition: old customers, no paid order since recent_since, average paid order (all history to as_of) <= max_amount
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../rfm_low_quality.sql
-- binds: sale_id, base_layer, gate_layer, as_of, old_before, recent_since, max_amount
SELECT f.customer_id
FROM (
    -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
) f
WHERE f.first_paid_at < :old_before
  AND f.last_paid_at < :recent_since
  AND f.paid_amount_all <= :max_amount * f.paid_orders_all
