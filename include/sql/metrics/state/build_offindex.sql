-- Rows a day's indexed reads (day/*.sql) would not find, kept aside so a day stays exact:
-- presale orders whose balance payment (the payment moment) differs from paid_at (paid_at is indexed,
-- balance_paid_at is not), and events of a type outside the four the import contract accepts
-- (day/crowds.sql reads the day's events by type). Usually empty.
-- Binds: none.
INSERT INTO metric_offindex_rows (row_kind, row_id, customer_id, row_at)
SELECT 'order', order_id, customer_id, balance_paid_at
FROM orders
WHERE is_presale AND balance_paid_at IS NOT NULL AND (paid_at IS NULL OR paid_at <> balance_paid_at)
UNION ALL
SELECT 'event', CAST(event_id AS VARCHAR(64)), customer_id, occurred_at
FROM events
WHERE event_type NOT IN ('visit', 'cart', 'favourite', 'coupon_claim')
