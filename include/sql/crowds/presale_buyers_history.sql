-- definition: paid a presale deposit in the lookback_days days before this sale (before `before`, default 00:00 of the reference day)
-- seed: seed 000 §三 历史预售购买人群的营销召回
-- binds: since, before
SELECT DISTINCT o.customer_id
FROM orders o
WHERE o.is_presale = TRUE
  AND o.deposit_paid_at >= :since
  AND o.deposit_paid_at < :before
