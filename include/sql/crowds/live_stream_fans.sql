-- definition: live-stream fans as of the moment (live_fan_since <= as_of); with members_only also members as of the moment
-- seed: seed 000 §三 直播兴趣会员转化 (店铺、直播铁粉会员)
-- binds: as_of, members_only (0/1)
SELECT c.customer_id
FROM customers c
WHERE c.live_fan_since <= :as_of
  AND (:members_only = 0 OR c.member_since <= :as_of)
