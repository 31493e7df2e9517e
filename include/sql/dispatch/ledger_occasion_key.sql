-- One real key of a send occasion, if it has any: its form tells whether the occasion began
-- under the legacy (sha256) keys (dacu.dispatch.ledger.key_maker). Dry-run rows have keys of
-- their own and do not count.
SELECT message_key
FROM dispatch_ledger
WHERE sale_id = :sale_id AND strategy_id = :strategy_id AND wave = :wave AND state <> 'dry_run'
LIMIT 1
