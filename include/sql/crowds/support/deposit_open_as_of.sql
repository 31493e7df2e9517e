-- definition: conditions on a presale order `o` whose deposit is paid: balance not paid, order not paid, closed or
-- refunded as of the moment; shared by deposit_paid_balance_unpaid.sql and its feature form (AND lines of a WHERE)
-- binds: as_of
AND (o.balance_paid_at IS NULL OR o.balance_paid_at > :as_of)
AND (o.paid_at IS NULL OR o.paid_at > :as_of)
AND (o.closed_at IS NULL OR o.closed_at > :as_of)
AND (o.refunded_at IS NULL OR o.refunded_at > :as_of)
