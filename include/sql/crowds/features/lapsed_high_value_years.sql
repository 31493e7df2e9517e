-- definition: paid >= min_amount in the years_back (1-3) calendar years before the gate's year and no paid order since lapsed_since
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../lapsed_high_value_years.sql
-- binds: sale_id, base_layer, gate_layer, as_of, years_back, min_amount, lapsed_since
SELECT f.customer_id
FROM (
    -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
) f
WHERE (f.paid_amount_y1 IS NOT NULL
    OR (:years_back >= 2 AND f.paid_amount_y2 IS NOT NULL)
    OR (:years_back >= 3 AND f.paid_amount_y3 IS NOT NULL))
  AND COALESCE(f.paid_amount_y1, 0)
      + (CASE WHEN :years_back >= 2 THEN COALESCE(f.paid_amount_y2, 0) ELSE 0 END)
      + (CASE WHEN :years_back >= 3 THEN COALESCE(f.paid_amount_y3, 0) ELSE 0 END) >= :min_amount
  AND (f.last_paid_at IS NULL OR f.last_paid_at < :lapsed_since)
