-- Rebuild of a whole sale's dispatch totals. Binds: sale_id.
DELETE FROM warroom_dispatch_totals
WHERE sale_id = :sale_id
