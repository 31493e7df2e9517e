-- definition: a presale deposit paid since `since` (default the reference day) up to as_of, balance not paid, order not closed or refunded, as of the moment
-- features: the orders of the day's history part's customers (part_deposit_paid_balance_unpaid.sql: an open deposit from before 00:00), read through the customer index and checked as of the moment, plus the deposits from today_since (the later of since and the day's 00:00) to the moment through the deposit index; same members as ../deposit_paid_balance_unpaid.sql
-- binds: sale_id, part_layer, since, today_since, as_of
SELECT o.customer_id
FROM orders o
WHERE o.customer_id IN (SELECT p.customer_id FROM crowd_part_rows p
                        WHERE p.sale_id = :sale_id AND p.layer = :part_layer)
  AND o.is_presale = TRUE
  AND o.deposit_paid_at >= :since AND o.deposit_paid_at <= :as_of
  -- @include crowds/support/deposit_open_as_of
UNION
SELECT o.customer_id
FROM orders o
WHERE o.is_presale = TRUE
  AND o.deposit_paid_at >= :today_since AND o.deposit_paid_at <= :as_of
  -- @include crowds/support/deposit_open_as_of
