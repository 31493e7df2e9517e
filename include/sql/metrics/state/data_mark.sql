-- What the warehouse has loaded: its import batches (count, last id, finished, rows loaded, latest start
-- and finish). Metric state built under another mark is stale (dacu/metrics/state.py). More than the
-- ids: a wiped and regenerated shop restarts batch ids at 1, its rows and times still differ.
-- Binds: none.
SELECT COUNT(*) AS n, MAX(b.batch_id) AS last_id,
       SUM(CASE WHEN b.status = 'done' THEN 1 ELSE 0 END) AS done,
       SUM(b.rows_loaded) AS rows_loaded, MAX(b.started_at) AS started, MAX(b.finished_at) AS finished
FROM import_batches b
