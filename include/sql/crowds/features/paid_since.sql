-- definition: a paid order since `since` up to as_of (active_recent_buyers, paid_in_sale; sale_buyers and last_year_sale_buyers when their window reaches as_of)
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../active_recent_buyers/paid_in_sale/sale_buyers/last_year_sale_buyers.sql
-- binds: sale_id, base_layer, gate_layer, as_of, since
SELECT f.customer_id
FROM (
    -- the gate row of a customer if the gate layer has one, else the day's base row (features.py)
    SELECT g.* FROM crowd_feature_rows g
    WHERE g.sale_id = :sale_id AND g.layer = :gate_layer
    UNION ALL
    SELECT b.* FROM crowd_feature_rows b
    WHERE b.sale_id = :sale_id AND b.layer = :base_layer
      AND NOT EXISTS (SELECT 1 FROM crowd_feature_rows d
                      WHERE d.sale_id = :sale_id AND d.layer = :gate_layer AND d.customer_id = b.customer_id)
) f
WHERE f.last_paid_at >= :since
