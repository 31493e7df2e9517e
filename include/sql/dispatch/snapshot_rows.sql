-- One page of the frozen crowd of one segment run (written by dacu.crowds), holdout flag included:
-- the customers after :after in the database's own order, :page at most (keyset paging keeps the
-- dispatcher's memory flat in the crowd size).
SELECT customer_id, is_holdout
FROM crowd_snapshots
WHERE sale_id = :sale_id AND strategy_id = :strategy_id AND run_key = :run_key
  AND customer_id > :after
ORDER BY customer_id
LIMIT :page
