-- definition: a paid order (paid_at, or balance_paid_at for presale) before 00:00 sale-local of the reference day (or before as_of if earlier)
-- seed: seed 000 §四 统计期间的老客 (old as of 5.24, fixed for the whole sale)
-- binds: old_before
SELECT DISTINCT o.customer_id
FROM orders o
WHERE o.paid_at < :old_before
   OR (o.paid_at IS NULL AND o.balance_paid_at < :old_before)
