-- definition: cart/favourite since band_start (band reaching as_of, <= 30 days), no paid order since no_purchase_since
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../cart_or_fav_not_paid.sql
-- binds: sale_id, base_layer, gate_layer, as_of, band_start, no_purchase_since
SELECT f.customer_id
FROM (
    -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
) f
WHERE f.last_cf_at >= :band_start
  AND (f.last_paid_at IS NULL OR f.last_paid_at < :no_purchase_since)
