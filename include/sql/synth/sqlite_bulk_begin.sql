-- SQLite bulk load (the generator owns the file): a rollback journal instead of WAL keeps the
-- one big transaction atomic while new pages are written once; no fsync until the end.
PRAGMA journal_mode=TRUNCATE;
PRAGMA synchronous=OFF;
PRAGMA cache_size=-400000;
PRAGMA analysis_limit=1000;
-- index builds sort on disk: memory stays flat whatever the size
PRAGMA temp_store=FILE;
