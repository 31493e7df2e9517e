-- definition: customers of the shop who cannot be sent marketing on any of the strategy's channels at the moment, with the first reason that applies
-- reasons: blacklisted; opted_out (opted_out_at <= as_of); no_channel (no channel of the strategy both consented and reachable: sms needs a mobile, email an email address)
-- binds: as_of, use_sms, use_email, use_inapp (0/1)
SELECT c.customer_id,
       CASE
           WHEN c.blacklisted = TRUE THEN 'blacklisted'
           WHEN c.opted_out_at <= :as_of THEN 'opted_out'
           ELSE 'no_channel'
       END AS reason
FROM customers c
WHERE c.blacklisted = TRUE
   OR c.opted_out_at <= :as_of
   OR NOT (
        (:use_sms = 1 AND c.consent_sms = TRUE AND c.mobile IS NOT NULL AND c.mobile <> '')
     OR (:use_email = 1 AND c.consent_email = TRUE AND c.email IS NOT NULL AND c.email <> '')
     OR (:use_inapp = 1 AND c.consent_inapp = TRUE)
   )
