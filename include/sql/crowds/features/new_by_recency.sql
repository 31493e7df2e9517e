-- definition: no paid order as of the moment, last visit in [last_visit_from, last_visit_to) with last_visit_from within the 30-day event window
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../new_by_recency.sql
-- binds: sale_id, base_layer, gate_layer, as_of, last_visit_from, last_visit_to
SELECT f.customer_id
FROM (
    -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
) f
WHERE f.first_paid_at IS NULL
  AND f.last_visit_at >= :last_visit_from AND f.last_visit_at < :last_visit_to
