-- definition: members as of the moment (member_since <= as_of) at member_level >= min_level (the level is the current one)
-- seed: seed 000 §三 会员
-- binds: as_of, min_level
SELECT c.customer_id
FROM customers c
WHERE c.member_since <= :as_of
  AND c.member_level >= :min_level
