-- definition: the history part of deposit_paid_balance_unpaid for one sale-local day: customers with a presale deposit paid from since to the day's 00:00 (exclusive) whose order is still open after 00:00 (balance, full payment, close and refund each unset or after 00:00). An order open at a gate moment of the day was open after 00:00, so its customer is here; the gate re-checks these customers' orders as of its moment (deposit_paid_balance_unpaid.sql); dacu/crowds/features.py deletes the layer's rows first, in the same transaction
-- binds: sale_id, layer, since, part_until (the day's 00:00)
INSERT INTO crowd_part_rows (sale_id, layer, customer_id)
SELECT DISTINCT :sale_id, :layer, o.customer_id
FROM orders o
WHERE o.is_presale = TRUE
  AND o.deposit_paid_at >= :since AND o.deposit_paid_at < :part_until
  AND (o.balance_paid_at IS NULL OR o.balance_paid_at > :part_until)
  AND (o.paid_at IS NULL OR o.paid_at > :part_until)
  AND (o.closed_at IS NULL OR o.closed_at > :part_until)
  AND (o.refunded_at IS NULL OR o.refunded_at > :part_until)
