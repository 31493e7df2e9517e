-- PostgreSQL: reserve (or record as held / skipped / holdout) a whole batch in one statement.
-- The per-message columns come as arrays (bound once, binary), the batch's constant ones as
-- scalars. A conflict means another attempt already handled the key: it is left untouched.
-- RETURNING: the keys this attempt inserted, i.e. the reserved keys that are its own to send.
-- @include dispatch/pg/ledger_rows_insert
ON CONFLICT (message_key) DO NOTHING
RETURNING message_key
