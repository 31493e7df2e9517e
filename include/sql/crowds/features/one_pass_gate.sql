-- definition: the bench's one-pass reference for what a gate reads once the day's base layer exists: count(*) over the base layer's rows and the inputs of the gate layer (the day's paid orders and events up to the gate moment), to set the gate's time against
-- binds: sale_id, base_layer, day_start, as_of
SELECT (SELECT COUNT(*) FROM crowd_feature_rows b
        WHERE b.sale_id = :sale_id AND b.layer = :base_layer)
     + (SELECT COUNT(*) FROM events e
        WHERE e.event_type IN ('visit', 'cart', 'favourite', 'coupon_claim')
          AND e.occurred_at >= :day_start AND e.occurred_at <= :as_of)
     + (SELECT COUNT(*) FROM orders r
        WHERE r.paid_at >= :day_start AND r.paid_at <= :as_of) AS n
