-- definition: members with >= min_orders paid orders in the lookback window (90, 180 or 365 days)
-- features: crowd_features of (sale_id, as_of); same members as ../high_value_repeat.sql
-- binds: sale_id, as_of, lookback, min_orders
SELECT f.customer_id
FROM crowd_features f
WHERE f.sale_id = :sale_id AND f.as_of = :as_of
  AND f.member_since <= :as_of
  AND (CASE :lookback WHEN 90 THEN f.paid_orders_90 WHEN 180 THEN f.paid_orders_180
                      WHEN 365 THEN f.paid_orders_365 END) >= :min_orders
