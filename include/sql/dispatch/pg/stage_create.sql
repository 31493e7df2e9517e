-- PostgreSQL fast path: a per-session staging table that COPY fills; each bulk step
-- reads it and empties it, all inside the caller's transaction.
CREATE TEMP TABLE IF NOT EXISTS dispatch_stage (
    message_key VARCHAR(64), sale_id VARCHAR(64), strategy_id VARCHAR(64), wave VARCHAR(64), run_key VARCHAR(250),
    customer_id VARCHAR(64), channel VARCHAR(8), msg_class VARCHAR(12), state VARCHAR(12), reason VARCHAR(48),
    planned_at TIMESTAMP, hold_until TIMESTAMP, expires_at TIMESTAMP, updated_at TIMESTAMP,
    provider_id VARCHAR(64), segments INTEGER, cost NUMERIC(12, 4), sent_day DATE,
    receipt VARCHAR(12), receipt_at TIMESTAMP,
    scope VARCHAR(16), period VARCHAR(64), slot INTEGER
)
