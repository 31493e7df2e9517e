-- The slots of the scope and period these customers hold (SQLite's claim: which keys got one).
SELECT message_key
FROM dispatch_cap_slots
WHERE scope = :scope AND period = :period AND customer_id IN :ids
