-- Counts of one send occasion by state, reason and receipt (XCom-safe: no ids).
SELECT state, reason, receipt, COUNT(*) AS n, COALESCE(SUM(cost), 0) AS cost, COALESCE(SUM(segments), 0) AS segments,
       MIN(hold_until) AS first_hold_until
FROM dispatch_ledger
WHERE sale_id = :sale_id AND strategy_id = :strategy_id AND wave = :wave
GROUP BY state, reason, receipt
