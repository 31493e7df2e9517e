-- definition: old customers, no paid order since recent_since, average paid order (all history to as_of) <= max_amount
-- features: crowd_features of (sale_id, as_of); same members as ../rfm_low_quality.sql
-- binds: sale_id, as_of, old_before, recent_since, max_amount
SELECT f.customer_id
FROM crowd_features f
WHERE f.sale_id = :sale_id AND f.as_of = :as_of
  AND f.first_paid_at < :old_before
  AND f.last_paid_at < :recent_since
  AND f.paid_amount_all <= :max_amount * f.paid_orders_all
