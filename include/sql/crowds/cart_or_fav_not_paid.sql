-- definition: carted or favourited on a sale-local day between max_days and min_days before the gate day (up to as_of), and no paid order in the last no_purchase_days days
-- seed: seed 001 自动化 (3-10 天加购收藏, 10 天未成交); seed 000 §三 加购收藏未付款人群提醒
-- binds: as_of, band_start, band_end, no_purchase_since
SELECT DISTINCT e.customer_id
FROM events e
WHERE e.event_type IN ('cart', 'favourite')
  AND e.occurred_at >= :band_start AND e.occurred_at < :band_end AND e.occurred_at <= :as_of
  AND NOT EXISTS (
      SELECT 1 FROM orders o
      WHERE o.customer_id = e.customer_id
        AND ((o.paid_at >= :no_purchase_since AND o.paid_at <= :as_of)
          OR (o.paid_at IS NULL AND o.balance_paid_at >= :no_purchase_since AND o.balance_paid_at <= :as_of))
  )
