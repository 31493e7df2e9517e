INSERT INTO readiness_confirmations (sale_id, kind, item_id, moment, decision, responded_by, responded_at, detail)
VALUES (:sale_id, :kind, :item_id, :moment, :decision, :responded_by, :responded_at, :detail)
