-- PostgreSQL: the keys of a batch with the same delivery receipt, in one statement; a key's
-- first receipt stays. Matched on the primary key (receipt has no index: a join could scan
-- the whole ledger for every batch).
UPDATE dispatch_ledger
SET receipt = :receipt, receipt_at = :receipt_at
WHERE message_key = ANY(string_to_array(:message_key, chr(31))) AND receipt IS NULL
