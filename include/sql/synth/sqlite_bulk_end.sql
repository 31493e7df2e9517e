-- Back to the settings of dacu.warehouse.connect.
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
PRAGMA cache_size=-200000;
PRAGMA temp_store=MEMORY;
