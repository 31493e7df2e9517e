-- Orders created in [start, end) (naive UTC), for the per-day history count.
SELECT COUNT(*) FROM orders WHERE created_at >= :start AND created_at < :end
