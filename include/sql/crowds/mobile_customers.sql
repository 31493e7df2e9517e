-- definition: customers known as of the moment with an 11-digit mainland mobile number (starts with 1)
-- seed: seed 001 手机客户
-- binds: as_of
SELECT c.customer_id
FROM customers c
WHERE c.first_seen_at <= :as_of
  AND c.mobile IS NOT NULL
  AND LENGTH(c.mobile) = 11
  AND c.mobile LIKE '1%'
