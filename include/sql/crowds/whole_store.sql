-- definition: every customer the shop knows as of the moment (first seen, member, fan or an order created by as_of)
-- seed: seed 000 §四 全店 (crowd size of the whole store)
-- binds: as_of
SELECT c.customer_id
FROM customers c
WHERE c.first_seen_at <= :as_of
   OR c.member_since <= :as_of
   OR c.fan_since <= :as_of
   OR c.live_fan_since <= :as_of
UNION
SELECT o.customer_id
FROM orders o
WHERE o.created_at <= :as_of
