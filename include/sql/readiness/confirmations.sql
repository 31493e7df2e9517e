SELECT kind, item_id, moment, decision, responded_by, responded_at, detail
FROM readiness_confirmations
WHERE sale_id = :sale_id
ORDER BY moment, kind, item_id
