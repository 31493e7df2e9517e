-- The size of the frozen crowd of one segment run (the dispatch log's progress and ETA).
SELECT COUNT(*) AS n
FROM crowd_snapshots
WHERE sale_id = :sale_id AND strategy_id = :strategy_id AND run_key = :run_key
