-- definition: an order created delay_minutes ago or earlier (juhuasuan: juhuasuan_delay_minutes) within window_minutes, with no payment (deposit or full) and not closed as of the moment, and no paid order of the customer since it was created; the order passes the reminder filters (amount in [min_amount, max_amount], seller flag not excluded, has an included SKU, has no excluded SKU)
-- seed: seed 004 催付 (约25分钟后催付, 聚划算约15分钟; 跳过已付其他订单的买家; 实付金额, 屏蔽卖家标记, 指定商品/排除指定商品)
-- binds: as_of, created_since (the earlier of the two windows' starts: one index range),
--   created_since_std, created_before, created_since_jhs, created_before_jhs;
--   use_min_amount/min_amount, use_max_amount/max_amount (0/1, yuan, both bounds inclusive),
--   use_exclude_seller_flags/exclude_seller_flags, use_include_skus/include_skus,
--   use_exclude_skus/exclude_skus (0/1, expanding lists); use_x = 0 means the filter is absent
SELECT DISTINCT o.customer_id
FROM orders o
WHERE o.created_at >= :created_since
  -- each kind of order has its own window: [moment - delay - window, moment - delay]
  AND ((o.source = 'juhuasuan' AND o.created_at >= :created_since_jhs AND o.created_at <= :created_before_jhs)
    OR (o.source <> 'juhuasuan' AND o.created_at >= :created_since_std AND o.created_at <= :created_before))
  AND (o.paid_at IS NULL OR o.paid_at > :as_of)
  AND (o.balance_paid_at IS NULL OR o.balance_paid_at > :as_of)
  AND (o.deposit_paid_at IS NULL OR o.deposit_paid_at > :as_of)
  AND (o.closed_at IS NULL OR o.closed_at > :as_of)
  AND (:use_min_amount = 0 OR o.amount >= :min_amount)
  AND (:use_max_amount = 0 OR o.amount <= :max_amount)
  -- an order without a flag is never blocked (seed 004: 屏蔽卖家标记 blocks the chosen flags only)
  AND (:use_exclude_seller_flags = 0 OR o.seller_flag IS NULL OR o.seller_flag NOT IN :exclude_seller_flags)
  -- items: "has at least one included SKU" and "has none of the excluded SKUs", per order line
  AND (:use_include_skus = 0 OR EXISTS (
      SELECT 1 FROM order_items i WHERE i.order_id = o.order_id AND i.sku_id IN :include_skus))
  AND (:use_exclude_skus = 0 OR NOT EXISTS (
      SELECT 1 FROM order_items x WHERE x.order_id = o.order_id AND x.sku_id IN :exclude_skus))
  -- "no paid order since it was created" as two probes of (customer_id, paid_at): a paid_at range
  -- (the index alone), then the customer's orders without paid_at (a presale balance); one OR'ed
  -- probe read every order row of the customer; LIMIT 1 OFFSET 0 keeps each a probe per order (else
  -- PostgreSQL hashes every order paid up to as_of): 1M PostgreSQL 0.29 s -> 0.08-0.11 s
  AND NOT EXISTS (
      SELECT 1 FROM orders p
      WHERE p.customer_id = o.customer_id AND p.paid_at >= o.created_at AND p.paid_at <= :as_of
      LIMIT 1 OFFSET 0)
  AND NOT EXISTS (
      SELECT 1 FROM orders p
      WHERE p.customer_id = o.customer_id AND p.paid_at IS NULL
        AND p.balance_paid_at >= o.created_at AND p.balance_paid_at <= :as_of
      LIMIT 1 OFFSET 0)
