-- definition: a paid order since `since` and not a member as of the moment (needs a customers row)
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../buyers_not_members.sql
-- binds: sale_id, base_layer, gate_layer, as_of, since
SELECT f.customer_id
FROM (
    -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
) f
WHERE f.in_customers = 1
  AND f.last_paid_at >= :since
  AND (f.member_since IS NULL OR f.member_since > :as_of)
