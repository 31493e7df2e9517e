UPDATE dispatch_ledger AS l
SET receipt = s.receipt, receipt_at = s.receipt_at
FROM dispatch_stage AS s
WHERE l.message_key = s.message_key AND l.receipt IS NULL
