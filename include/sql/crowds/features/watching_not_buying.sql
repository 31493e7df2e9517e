-- definition: members with a cart/favourite/coupon claim since intent_since (<= 30 days) or >= min_visits visits in the visit window (7, 14 or 30 days), no paid order since no_purchase_since
-- features: crowd_features of (sale_id, as_of); same members as ../watching_not_buying.sql
-- binds: sale_id, as_of, intent_since, visit_window, min_visits, no_purchase_since
SELECT f.customer_id
FROM crowd_features f
WHERE f.sale_id = :sale_id AND f.as_of = :as_of
  AND f.member_since <= :as_of
  AND (f.last_cfc_at >= :intent_since
    OR (CASE :visit_window WHEN 7 THEN f.visits_7 WHEN 14 THEN f.visits_14 WHEN 30 THEN f.visits_30 END) >= :min_visits)
  AND (f.last_paid_at IS NULL OR f.last_paid_at < :no_purchase_since)
