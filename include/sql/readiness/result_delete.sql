-- Replace one gate's result at one check moment (idempotent rerun).
DELETE FROM readiness_results
WHERE sale_id = :sale_id AND gate = :gate AND check_at = :check_at
