DELETE FROM readiness_confirmations
WHERE sale_id = :sale_id AND kind = :kind AND item_id = :item_id AND moment = :moment
