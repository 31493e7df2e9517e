INSERT INTO warroom_dispatch_totals (sale_id, strategy_id, wave, run_key, sent, failed, held, holdout, pending,
                                     dry_run, delivered, undelivered, skipped, failed_by_reason, cost, updated_at)
VALUES (:sale_id, :strategy_id, :wave, :run_key, :sent, :failed, :held, :holdout, :pending,
        :dry_run, :delivered, :undelivered, :skipped, :failed_by_reason, :cost, :updated_at)
