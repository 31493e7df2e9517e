-- Earliest and newest order created before the check moment.
SELECT MIN(created_at), MAX(created_at) FROM orders WHERE created_at < :at
