-- Every coupon the warehouse knows and when it was issued on the platform (NULL: not yet).
SELECT coupon_id, issued_at FROM coupons
