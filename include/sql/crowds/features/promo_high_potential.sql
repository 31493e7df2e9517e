-- definition: visit/cart/favourite since intent_since (<= 30 days) and (member or paid since bought_since)
-- features: crowd_features of (sale_id, as_of); same members as ../promo_high_potential.sql
-- binds: sale_id, as_of, intent_since, bought_since
SELECT f.customer_id
FROM crowd_features f
WHERE f.sale_id = :sale_id AND f.as_of = :as_of
  AND f.last_vcf_at >= :intent_since
  AND (f.member_since <= :as_of OR f.last_paid_at >= :bought_since)
