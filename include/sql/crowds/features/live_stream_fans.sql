-- definition: live-stream fans as of the moment; with members_only also members as of the moment
-- features: the gate's feature rows (gate layer over the day's base layer); same members as ../live_stream_fans.sql
-- binds: sale_id, base_layer, gate_layer, as_of, members_only (0/1)
SELECT f.customer_id
FROM (
    -- @include crowds/features/gate_rows: the gate row of a customer if the gate layer has one, else the day's base row
) f
WHERE f.live_fan_since <= :as_of
  AND (:members_only = 0 OR f.member_since <= :as_of)
