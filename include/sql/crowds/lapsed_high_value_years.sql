-- definition: paid >= min_amount in total in the years_back sale-local calendar years before the gate's year, and no paid order in the last lapsed_days days
-- seed: seed 001 召回19-21年沉默高价值客户 (大额优惠)
-- binds: as_of, years_from, years_to, min_amount, lapsed_since
SELECT o.customer_id
FROM orders o
WHERE ((o.paid_at >= :years_from AND o.paid_at < :years_to)
    OR (o.paid_at IS NULL AND o.balance_paid_at >= :years_from AND o.balance_paid_at < :years_to))
  AND NOT EXISTS (
      SELECT 1 FROM orders p
      WHERE p.customer_id = o.customer_id
        AND ((p.paid_at >= :lapsed_since AND p.paid_at <= :as_of)
          OR (p.paid_at IS NULL AND p.balance_paid_at >= :lapsed_since AND p.balance_paid_at <= :as_of))
  )
GROUP BY o.customer_id
HAVING SUM(o.amount) >= :min_amount
