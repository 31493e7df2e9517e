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
    SELECT g.* FROM crowd_feature_rows g
    WHERE g.sale_id = :sale_id AND g.layer = :gate_layer
    UNION ALL
    SELECT b.* FROM crowd_feature_rows b
    WHERE b.sale_id = :sale_id AND b.layer = :base_layer
      AND NOT EXISTS (SELECT 1 FROM crowd_feature_rows d
                      WHERE d.sale_id = :sale_id AND d.layer = :gate_layer AND d.customer_id = b.customer_id)
) f
WHERE f.last_paid_at >= :no_purchase_since
