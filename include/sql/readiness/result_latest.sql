-- The latest result of every gate of a sale at or before a moment.
SELECT r.gate, r.check_at, r.status, r.reasons, r.details, r.blocked
FROM readiness_results r
WHERE r.sale_id = :sale_id
  AND r.check_at = (
    SELECT MAX(r2.check_at) FROM readiness_results r2
    WHERE r2.sale_id = r.sale_id AND r2.gate = r.gate AND r2.check_at <= :at
  )
ORDER BY r.gate
