-- definition: cart/favourite in [band_start, band_end) up to as_of (events read in the band only), no paid order since no_purchase_since (from the features)
-- features: crowd_features of (sale_id, as_of); same members as ../cart_or_fav_not_paid.sql
-- binds: sale_id, as_of, band_start, band_end, no_purchase_since
SELECT DISTINCT e.customer_id
FROM events e
WHERE e.event_type IN ('cart', 'favourite')
  AND e.occurred_at >= :band_start AND e.occurred_at < :band_end AND e.occurred_at <= :as_of
  AND NOT EXISTS (
      SELECT 1 FROM crowd_features f
      WHERE f.sale_id = :sale_id AND f.as_of = :as_of
        AND f.customer_id = e.customer_id
        AND f.last_paid_at >= :no_purchase_since
  )
