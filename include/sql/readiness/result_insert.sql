INSERT INTO readiness_results (sale_id, gate, check_at, status, reasons, details, blocked)
VALUES (:sale_id, :gate, :check_at, :status, :reasons, :details, :blocked)
