-- Benchmark reference (bench/bench_metrics.py): one pass over the rows a day's snapshot must read,
-- i.e. the day's events and the orders with any of their moments in the day.
-- Binds (naive UTC): start_at / end_at the day (end exclusive).
SELECT
    (SELECT COUNT(*) FROM events WHERE occurred_at >= :start_at AND occurred_at < :end_at)
  + (SELECT COUNT(*) FROM orders
      WHERE (paid_at >= :start_at AND paid_at < :end_at)
         OR (created_at >= :start_at AND created_at < :end_at)
         OR (deposit_paid_at >= :start_at AND deposit_paid_at < :end_at)
         OR (balance_paid_at >= :start_at AND balance_paid_at < :end_at)) AS row_count
