-- definition: paid a presale deposit in the lookback_days days before this sale (before `before`, default 00:00 of the reference day)
-- features: the day's history part (part_presale_buyers_history.sql: deposits from since to the earlier of `before` and the day's 00:00) plus deposits from today_since (the later of since and the day's 00:00) to `before` - an empty index range when `before` is not after 00:00; same members as ../presale_buyers_history.sql
-- binds: sale_id, part_layer, today_since, before
-- UNION ALL: the caller keeps the ids as a set (a customer in both halves counts once); a UNION made
-- PostgreSQL sort the part's ~200k rows at 1M customers (0.19 s of 0.25 s)
SELECT p.customer_id
FROM crowd_part_rows p
WHERE p.sale_id = :sale_id AND p.layer = :part_layer
UNION ALL
SELECT o.customer_id
FROM orders o
WHERE o.is_presale = TRUE
  AND o.deposit_paid_at >= :today_since
  AND o.deposit_paid_at < :before
