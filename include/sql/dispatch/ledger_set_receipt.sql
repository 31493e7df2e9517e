UPDATE dispatch_ledger
SET receipt = :receipt, receipt_at = :receipt_at
WHERE message_key = :message_key AND receipt IS NULL
