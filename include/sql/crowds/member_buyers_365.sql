-- definition: members as of the moment with a paid order in the last lookback_days days
-- seed: seed 000 §三 复购券促第二、三单转化 (近365天已购会员)
-- binds: as_of, since
SELECT DISTINCT o.customer_id
FROM orders o
JOIN customers c ON c.customer_id = o.customer_id
WHERE c.member_since <= :as_of
  AND ((o.paid_at >= :since AND o.paid_at <= :as_of)
    OR (o.paid_at IS NULL AND o.balance_paid_at >= :since AND o.balance_paid_at <= :as_of))
