-- definition: members with a paid order since `since`
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../member_buyers_365.sql
-- binds: sale_id, base_layer, gate_layer, as_of, since
SELECT f.customer_id
FROM (
    -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
) f
WHERE f.member_since <= :as_of
  AND f.last_paid_at >= :since
