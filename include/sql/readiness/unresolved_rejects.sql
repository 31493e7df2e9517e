-- Import batches with unresolved rejected rows.
SELECT b.batch_id, b.kind, b.rows_read, COUNT(*) AS unresolved
FROM import_batches b
JOIN import_rejects r ON r.batch_id = b.batch_id
WHERE r.resolved = :resolved
GROUP BY b.batch_id, b.kind, b.rows_read
ORDER BY b.batch_id
