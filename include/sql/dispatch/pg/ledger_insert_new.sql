-- PostgreSQL: reserve (or record as held / skipped / holdout) a batch of keys the caller found
-- absent a moment ago: a plain INSERT, run in a savepoint. A key inserted meanwhile by a
-- concurrent attempt raises a unique violation: the caller rolls the savepoint back and uses
-- ledger_insert.sql (ON CONFLICT DO NOTHING) instead. RETURNING: the keys inserted (all of them).
-- @include dispatch/pg/ledger_rows_insert
RETURNING message_key
