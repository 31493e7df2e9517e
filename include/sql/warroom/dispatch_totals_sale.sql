-- War room: the dispatch totals of a sale (one summary row per strategy and send occasion).
-- Binds: sale_id.
SELECT strategy_id, wave, run_key, sent, failed, held, holdout, pending, dry_run, delivered, undelivered,
       skipped, failed_by_reason, cost, updated_at
FROM warroom_dispatch_totals
WHERE sale_id = :sale_id
ORDER BY strategy_id, wave
