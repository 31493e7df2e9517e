-- definition: treated customers of a segment run who cannot be messaged at send time, with the first reason: blacklisted, opted_out (opted_out_at <= send time), no_channel (no channel of the run consented and reachable)
-- binds: sale_id, strategy_id, run_key, send_time, use_sms, use_email, use_inapp, ranged, id_from, id_to (ranged = 1: only ids in [id_from, id_to], a dispatcher page)
SELECT c.customer_id,
       CASE
           WHEN c.blacklisted = TRUE THEN 'blacklisted'
           WHEN c.opted_out_at <= :send_time THEN 'opted_out'
           ELSE 'no_channel'
       END AS reason
FROM crowd_snapshots s
JOIN customers c ON c.customer_id = s.customer_id
WHERE s.sale_id = :sale_id AND s.strategy_id = :strategy_id AND s.run_key = :run_key
  AND s.is_holdout = FALSE
  AND (:ranged = 0 OR (s.customer_id >= :id_from AND s.customer_id <= :id_to))
  AND (c.blacklisted = TRUE
    OR c.opted_out_at <= :send_time
    OR NOT (
         (:use_sms = 1 AND c.consent_sms = TRUE AND c.mobile IS NOT NULL AND c.mobile <> '')
      OR (:use_email = 1 AND c.consent_email = TRUE AND c.email IS NOT NULL AND c.email <> '')
      OR (:use_inapp = 1 AND c.consent_inapp = TRUE)
    ))
