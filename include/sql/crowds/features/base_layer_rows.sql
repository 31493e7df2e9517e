-- definition: the base layer's rows of the gate's day as a row source (every customer known before the day's 00:00); a batch over them runs while the gate layer is built, and the rows of the customers the gate layer holds are then replaced by the batch over gate_layer_rows.sql (together: gate_rows.sql, dacu/crowds/evaluate.py)
-- binds: sale_id, base_layer
    SELECT b.* FROM crowd_feature_rows b
    WHERE b.sale_id = :sale_id AND b.layer = :base_layer
