-- definition: the history part of presale_buyers_history for one sale-local day: customers who paid a presale deposit from since to part_until (the earlier of `before` and the day's 00:00, exclusive); the gate adds [the later of since and 00:00, before) (presale_buyers_history.sql); dacu/crowds/features.py deletes the layer's rows first, in the same transaction
-- binds: sale_id, layer, since, part_until
INSERT INTO crowd_part_rows (sale_id, layer, customer_id)
SELECT DISTINCT :sale_id, :layer, o.customer_id
FROM orders o
WHERE o.is_presale = TRUE
  AND o.deposit_paid_at >= :since
  AND o.deposit_paid_at < :part_until
