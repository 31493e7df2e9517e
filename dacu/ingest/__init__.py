"""Loading real data into the warehouse.

- ``load_dir``: a folder of table CSVs (the merchant's export job / DMP), columns =
  warehouse columns (docs/data-contract.md).
- ``import_orders``: a platform order export (Tmall/Taobao, JD) read through a
  versioned format in include/formats/.

Both are idempotent (upsert by id), quarantine bad rows with a reason code, record
one import batch per file, stream in chunks, and write nothing for an unreadable file.
"""
from dacu.ingest.batches import BatchReport
from dacu.ingest.errors import BadValue, IngestFileError
from dacu.ingest.load_dir import load_dir, load_table_file, plan_dir
from dacu.ingest.orders_export import import_orders

__all__ = ["BadValue", "BatchReport", "IngestFileError", "import_orders", "load_dir", "load_table_file", "plan_dir"]
