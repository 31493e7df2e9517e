-- definition: no paid order as of the moment (gate's feature rows), last visit in [last_visit_from, last_visit_to): visits read from last_visit_from only (EPOCH for the lapsed band)
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../new_by_recency.sql
-- binds: sale_id, base_layer, gate_layer, as_of, last_visit_from, last_visit_to
SELECT e.customer_id
FROM events e
WHERE e.event_type = 'visit'
  AND e.occurred_at >= :last_visit_from AND e.occurred_at <= :as_of
GROUP BY e.customer_id
HAVING MAX(e.occurred_at) < :last_visit_to
EXCEPT
SELECT f.customer_id
FROM (
    -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
) f
WHERE f.first_paid_at IS NOT NULL
