-- The import_batches row of a generate run; its id goes into every generated row.
INSERT INTO import_batches (kind, source, started_at, period_start, period_end,
                            rows_read, rows_loaded, rows_rejected, status)
VALUES ('generate', :source, :started_at, :period_start, :period_end, 0, 0, 0, 'running')
RETURNING batch_id;
