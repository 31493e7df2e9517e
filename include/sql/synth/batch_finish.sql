UPDATE import_batches
   SET finished_at = :finished_at, rows_read = :rows, rows_loaded = :rows, rows_rejected = 0, status = :status
 WHERE batch_id = :batch_id;
