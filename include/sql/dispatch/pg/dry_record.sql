-- PostgreSQL: a batch of dry_run rows in one statement (see ../dry_record.sql); a real row is
-- never touched.
-- @include dispatch/pg/ledger_rows_insert
ON CONFLICT (message_key) DO UPDATE
SET reason = excluded.reason, run_key = excluded.run_key, planned_at = excluded.planned_at,
    updated_at = excluded.updated_at
WHERE dispatch_ledger.state = 'dry_run'
