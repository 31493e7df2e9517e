-- PostgreSQL fast path of wipe.sql: TRUNCATE is transactional there, and RESTART IDENTITY
-- makes the generate batch id 1 again (as SQLite does after the DELETEs), so reruns are identical.
TRUNCATE coupon_grants, coupons, events, order_items, orders, skus, customers, import_rejects, import_batches
    RESTART IDENTITY;
