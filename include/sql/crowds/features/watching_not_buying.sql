-- definition: members with a cart/favourite/coupon claim since intent_since (<= 30 days) or >= min_visits visits in the visit window (7, 14 or 30 days), no paid order since no_purchase_since
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../watching_not_buying.sql
-- binds: sale_id, base_layer, gate_layer, as_of, intent_since, visit_window, min_visits, no_purchase_since
SELECT f.customer_id
FROM (
    -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
) f
WHERE f.member_since <= :as_of
  AND (f.last_cfc_at >= :intent_since
    OR (CASE :visit_window WHEN 7 THEN f.visits_7 WHEN 14 THEN f.visits_14 WHEN 30 THEN f.visits_30 END) >= :min_visits)
  AND (f.last_paid_at IS NULL OR f.last_paid_at < :no_purchase_since)
