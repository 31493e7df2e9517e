-- PostgreSQL fast path of wipe.sql: TRUNCATE is transactional there, and RESTART IDENTITY
-- makes the generate batch id 1 again (as SQLite does after the DELETEs), so reruns are identical.
TRUNCATE crowd_feature_rows, crowd_part_rows, crowd_feature_layers, metric_active_spells, metric_day_calendar,
    metric_offindex_rows, metric_customer_state, metric_state_builds, crowd_snapshots, segment_runs, dispatch_cap_slots,
    dispatch_ledger, readiness_confirmations, readiness_results, metric_snapshot_candidates,
    metric_snapshots, metric_validations, metric_warmup_candidates, metric_warmup_daily,
    coupon_grants, coupons, events, order_items, orders, skus, customers, import_rejects, import_batches
    RESTART IDENTITY;
