-- definition: an open presale order (deposit paid, balance unpaid, not closed or refunded as of the moment) whose deposit was paid since `since`
-- features: crowd_features of (sale_id, as_of); same members as ../deposit_paid_balance_unpaid.sql
-- binds: sale_id, as_of, since
SELECT f.customer_id
FROM crowd_features f
WHERE f.sale_id = :sale_id AND f.as_of = :as_of
  AND f.open_deposit_at >= :since
