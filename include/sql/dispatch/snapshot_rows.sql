-- The frozen crowd of one segment run (written by dacu.crowds), holdout flag included.
SELECT customer_id, is_holdout
FROM crowd_snapshots
WHERE sale_id = :sale_id AND strategy_id = :strategy_id AND run_key = :run_key
ORDER BY customer_id
