-- definition: the INSERT head of a layer's feature rows (the crowd_feature_rows columns in the order base.sql and
-- gate.sql select them), written once so the two layers cannot drift apart
-- binds: none (the including file's SELECT supplies the values)
INSERT INTO crowd_feature_rows (
    sale_id, layer, customer_id, in_customers, known_since, member_since, member_level, fan_since, live_fan_since,
    mobile_seen_at, first_paid_at, last_paid_at,
    paid_orders_90, paid_orders_180, paid_orders_365, paid_orders_all,
    paid_amount_90, paid_amount_180, paid_amount_365, paid_amount_all,
    paid_amount_y1, paid_amount_y2, paid_amount_y3,
    last_visit_at, last_vcf_at, last_cf_at, last_cfc_at, visits_7, visits_14, visits_30, next_balance_at)
