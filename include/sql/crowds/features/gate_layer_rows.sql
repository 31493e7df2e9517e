-- definition: the gate layer's rows as a row source (the customers changed since the day's 00:00, as of the gate moment); see base_layer_rows.sql
-- binds: sale_id, gate_layer
    SELECT g.* FROM crowd_feature_rows g
    WHERE g.sale_id = :sale_id AND g.layer = :gate_layer
