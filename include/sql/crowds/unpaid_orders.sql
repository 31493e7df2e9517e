-- definition: an order created delay_minutes ago or earlier (juhuasuan: juhuasuan_delay_minutes) within window_minutes, with no payment (deposit or full) and not closed as of the moment, and no paid order of the customer since it was created
-- seed: seed 004 催付 (约25分钟后催付, 聚划算约15分钟; 跳过已付其他订单的买家)
-- binds: as_of, created_since, created_before, created_before_jhs
SELECT DISTINCT o.customer_id
FROM orders o
WHERE o.created_at >= :created_since
  AND ((o.source = 'juhuasuan' AND o.created_at <= :created_before_jhs)
    OR (o.source <> 'juhuasuan' AND o.created_at <= :created_before))
  AND (o.paid_at IS NULL OR o.paid_at > :as_of)
  AND (o.balance_paid_at IS NULL OR o.balance_paid_at > :as_of)
  AND (o.deposit_paid_at IS NULL OR o.deposit_paid_at > :as_of)
  AND (o.closed_at IS NULL OR o.closed_at > :as_of)
  AND NOT EXISTS (
      SELECT 1 FROM orders p
      WHERE p.customer_id = o.customer_id
        AND ((p.paid_at >= o.created_at AND p.paid_at <= :as_of)
          OR (p.paid_at IS NULL AND p.balance_paid_at >= o.created_at AND p.balance_paid_at <= :as_of))
  )
