-- definition: the bench's one-pass reference: count(*) over the rows the feature build reads (orders up to as_of, events of the 30-day window, customers), to set the build's time against
-- binds: as_of, ev_since
SELECT (SELECT COUNT(*) FROM orders r
        WHERE r.created_at <= :as_of OR r.paid_at <= :as_of OR r.balance_paid_at <= :as_of
           OR r.deposit_paid_at <= :as_of)
     + (SELECT COUNT(*) FROM events e
        WHERE e.event_type IN ('visit', 'cart', 'favourite', 'coupon_claim')
          AND e.occurred_at >= :ev_since AND e.occurred_at <= :as_of)
     + (SELECT COUNT(*) FROM customers c) AS n
