-- definition: cart/favourite/coupon claim since intent_since (<= 30 days) and no paid order since then
-- features: crowd_features of (sale_id, as_of); same members as ../last_push.sql
-- binds: sale_id, as_of, intent_since
SELECT f.customer_id
FROM crowd_features f
WHERE f.sale_id = :sale_id AND f.as_of = :as_of
  AND f.last_cfc_at >= :intent_since
  AND (f.last_paid_at IS NULL OR f.last_paid_at < :intent_since)
