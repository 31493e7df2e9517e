-- definition: cart/favourite since band_start (band reaching as_of, <= 30 days), no paid order since no_purchase_since
-- features: crowd_features of (sale_id, as_of); same members as ../cart_or_fav_not_paid.sql
-- binds: sale_id, as_of, band_start, no_purchase_since
SELECT f.customer_id
FROM crowd_features f
WHERE f.sale_id = :sale_id AND f.as_of = :as_of
  AND f.last_cf_at >= :band_start
  AND (f.last_paid_at IS NULL OR f.last_paid_at < :no_purchase_since)
