-- definition: cart/favourite in [band_start, band_end) up to as_of (events read in the band only), no paid order since no_purchase_since (from the gate's feature rows)
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../cart_or_fav_not_paid.sql
-- binds: sale_id, base_layer, gate_layer, as_of, band_start, band_end, no_purchase_since
SELECT e.customer_id
FROM events e
WHERE e.event_type IN ('cart', 'favourite')
  AND e.occurred_at >= :band_start AND e.occurred_at < :band_end AND e.occurred_at <= :as_of
EXCEPT
SELECT f.customer_id
FROM (
    -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
) f
WHERE f.last_paid_at >= :no_purchase_since
