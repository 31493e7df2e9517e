-- Replace one occasion's dispatch totals. Binds: sale_id, strategy_id, wave.
DELETE FROM warroom_dispatch_totals
WHERE sale_id = :sale_id AND strategy_id = :strategy_id AND wave = :wave
