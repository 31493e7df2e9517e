-- definition: a presale deposit paid since `since` (default the reference day) up to as_of, balance not paid, order not closed or refunded, as of the moment
-- seed: seed 004 催付 尾款提醒 (remind balances from the balance window's start)
-- binds: as_of, since
SELECT DISTINCT o.customer_id
FROM orders o
WHERE o.is_presale = TRUE
  AND o.deposit_paid_at >= :since AND o.deposit_paid_at <= :as_of
  -- @include crowds/support/deposit_open_as_of
