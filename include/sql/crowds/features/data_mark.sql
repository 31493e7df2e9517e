-- definition: what the warehouse has loaded (import batches: count, last id, finished); a feature build made under another mark is stale
-- binds: none
SELECT COUNT(*) AS n, MAX(b.batch_id) AS last_id,
       SUM(CASE WHEN b.status = 'done' THEN 1 ELSE 0 END) AS done
FROM import_batches b
