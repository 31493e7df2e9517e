-- definition: visit/cart/favourite since intent_since (<= 30 days) and (member or paid since bought_since)
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../promo_high_potential.sql
-- binds: sale_id, base_layer, gate_layer, as_of, intent_since, bought_since
SELECT f.customer_id
FROM (
    -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
) f
WHERE f.last_vcf_at >= :intent_since
  AND (f.member_since <= :as_of OR f.last_paid_at >= :bought_since)
