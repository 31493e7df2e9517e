-- PostgreSQL: held messages whose quiet hours are over and that get the same outcome (reserved
-- for sending, or skipped with one reason), in one statement. The keys go as one array matched
-- on the primary key; the state test is wrapped in IS TRUE so the planner cannot scan the
-- state index instead (see ledger_mark.sql).
UPDATE dispatch_ledger
SET state = :state, reason = :reason, updated_at = :updated_at
WHERE message_key = ANY(string_to_array(:message_key, chr(31))) AND (state = 'held') IS TRUE
