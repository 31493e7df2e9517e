-- definition: a paid order since `since` up to as_of (active_recent_buyers, paid_in_sale; sale_buyers and last_year_sale_buyers when their window reaches as_of)
-- features: crowd_features of (sale_id, as_of); same members as ../active_recent_buyers/paid_in_sale/sale_buyers/last_year_sale_buyers.sql
-- binds: sale_id, as_of, since
SELECT f.customer_id
FROM crowd_features f
WHERE f.sale_id = :sale_id AND f.as_of = :as_of
  AND f.last_paid_at >= :since
