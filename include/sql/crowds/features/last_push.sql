-- definition: cart/favourite/coupon claim since intent_since (<= 30 days) and no paid order since then
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../last_push.sql
-- binds: sale_id, base_layer, gate_layer, as_of, intent_since
SELECT f.customer_id
FROM (
    -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
) f
WHERE f.last_cfc_at >= :intent_since
  AND (f.last_paid_at IS NULL OR f.last_paid_at < :intent_since)
