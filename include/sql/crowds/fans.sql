-- definition: subscription fans as of the moment (fan_since <= as_of)
-- seed: seed 000 §三 粉丝
-- binds: as_of
SELECT c.customer_id
FROM customers c
WHERE c.fan_since <= :as_of
