-- definition: the bench's one-pass reference over the data the feature crowds are defined on: count(*) over orders up to as_of, events of the 30-day window up to as_of and customers (what one feature build from scratch reads), to set the crowds' time against
-- binds: as_of, ev_since
SELECT (SELECT COUNT(*) FROM orders r
        WHERE r.created_at <= :as_of OR r.paid_at <= :as_of OR r.balance_paid_at <= :as_of
           OR r.deposit_paid_at <= :as_of)
     + (SELECT COUNT(*) FROM events e
        WHERE e.event_type IN ('visit', 'cart', 'favourite', 'coupon_claim')
          AND e.occurred_at >= :ev_since AND e.occurred_at <= :as_of)
     + (SELECT COUNT(*) FROM customers c) AS n
