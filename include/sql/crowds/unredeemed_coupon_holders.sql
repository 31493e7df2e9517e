-- definition: hold a coupon grant (of coupon_ids, or any when empty) granted by as_of, not expired, not redeemed and whose coupon is still valid at the moment
-- seed: seed 000 §三 第二波权益未核销会员提醒 (有6.16-6.20可用券会员, 到期提醒)
-- binds: as_of, any_coupon (0/1), coupon_ids (expanding)
SELECT DISTINCT g.customer_id
FROM coupon_grants g
LEFT JOIN coupons k ON k.coupon_id = g.coupon_id
WHERE g.granted_at <= :as_of
  AND (g.expires_at IS NULL OR g.expires_at > :as_of)
  AND (g.redeemed_at IS NULL OR g.redeemed_at > :as_of)
  AND (k.valid_to IS NULL OR k.valid_to > :as_of)
  AND (:any_coupon = 1 OR g.coupon_id IN :coupon_ids)
