-- dacu data generate owns the whole warehouse: remove every row it may replace
-- (children first). Runs inside the load's transaction, so a failed run keeps the old data.
DELETE FROM coupon_grants;
DELETE FROM coupons;
DELETE FROM events;
DELETE FROM order_items;
DELETE FROM orders;
DELETE FROM skus;
DELETE FROM customers;
DELETE FROM import_rejects;
DELETE FROM import_batches;
