-- Planner statistics after a bulk load (SQLite: bounded by PRAGMA analysis_limit).
ANALYZE;
