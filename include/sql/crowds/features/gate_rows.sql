-- definition: the feature rows of one gate moment as a row source: the gate layer's row of a customer if there is one, else the day's base row (dacu/crowds/features.py); every simple feature crowd reads exactly this block as `FROM (...) f`, and dacu/crowds/evaluate.py batches several of their WHERE conditions over one pass of it
-- binds: sale_id, base_layer, gate_layer
    SELECT g.* FROM crowd_feature_rows g
    WHERE g.sale_id = :sale_id AND g.layer = :gate_layer
    UNION ALL
    SELECT b.* FROM crowd_feature_rows b
    WHERE b.sale_id = :sale_id AND b.layer = :base_layer
      AND NOT EXISTS (SELECT 1 FROM crowd_feature_rows d
                      WHERE d.sale_id = :sale_id AND d.layer = :gate_layer AND d.customer_id = b.customer_id)
