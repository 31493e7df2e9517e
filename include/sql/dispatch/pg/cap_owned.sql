-- PostgreSQL: the list bound as one array (a short statement the driver caches). Which of these message keys hold a slot of the scope and period.
SELECT message_key
FROM dispatch_cap_slots
WHERE scope = :scope AND period = :period AND message_key = ANY(:keys)
