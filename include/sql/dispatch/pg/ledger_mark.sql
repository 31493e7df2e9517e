-- PostgreSQL: the provider's answers for a whole batch in one statement (arrays, one per
-- column); a key already sent or failed is never changed. The ledger rows are found by
-- primary key (the ANY list). The state test is wrapped in IS TRUE so that the planner cannot
-- take the state index instead: its entries of every key ever reserved stay until vacuum, and
-- a bitmap scan over them made each batch's mark cost grow with the ledger (quadratic at 1M).
UPDATE dispatch_ledger AS l
SET state = s.state,
    reason = s.reason,
    provider_id = COALESCE(s.provider_id, l.provider_id),
    segments = COALESCE(s.segments, l.segments),
    cost = COALESCE(s.cost, l.cost),
    sent_day = COALESCE(s.sent_day, l.sent_day),
    attempts = l.attempts + 1,
    updated_at = :updated_at
FROM unnest(string_to_array(:message_key, chr(31)), string_to_array(:state, chr(31)), :reason::text[], :provider_id::text[], :segments::int[],
            :cost::numeric[], :sent_day::date[])
     AS s(message_key, state, reason, provider_id, segments, cost, sent_day)
WHERE l.message_key = ANY(string_to_array(:message_key, chr(31)))
  AND l.message_key = s.message_key
  AND (l.state IN ('reserved', 'unknown')) IS TRUE
