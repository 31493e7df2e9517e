"""Which keys this file has already delivered, kept on disk so memory stays flat.

A 10M-row file cannot keep its keys in a Python set. The ledger is a scratch
SQLite file in a temporary folder (not the warehouse, so it works the same for
a PostgreSQL warehouse); it maps key -> (digest of the data, first line) and
answers "seen before? with the same data?" per chunk. It is deleted on close.
"""
from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Iterable
from pathlib import Path

_LOOKUP_BATCH = 900


class DuplicateLedger:
    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="dacu-ingest-"))
        self._db = sqlite3.connect(self._dir / "ledger.db", isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("PRAGMA cache_size=-16000")      # 16 MB page cache, the rest stays on disk
        self._db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY, digest BLOB NOT NULL, line_no INTEGER NOT NULL)"
                         " WITHOUT ROWID")
        self._db.execute("CREATE TABLE parents (key TEXT PRIMARY KEY) WITHOUT ROWID")

    def __enter__(self) -> "DuplicateLedger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def lookup(self, keys: Iterable[str]) -> dict[str, tuple[bytes, int]]:
        """The stored (digest, first line) of every given key seen earlier."""
        keys = list(keys)
        found: dict[str, tuple[bytes, int]] = {}
        for i in range(0, len(keys), _LOOKUP_BATCH):
            part = keys[i:i + _LOOKUP_BATCH]
            marks = ",".join("?" * len(part))
            for key, dig, line in self._db.execute(
                    f"SELECT key, digest, line_no FROM seen WHERE key IN ({marks})", part):
                found[key] = (dig, line)
        return found

    def add(self, entries: list[tuple[str, bytes, int]]) -> None:
        self._db.execute("BEGIN")
        self._db.executemany("INSERT OR IGNORE INTO seen (key, digest, line_no) VALUES (?, ?, ?)", entries)
        self._db.execute("COMMIT")

    def new_parents(self, keys: Iterable[str]) -> list[str]:
        """Record parent keys (e.g. order ids of order lines); return those not recorded before."""
        fresh = []
        self._db.execute("BEGIN")
        for key in dict.fromkeys(keys):
            if self._db.execute("INSERT OR IGNORE INTO parents (key) VALUES (?)", (key,)).rowcount:
                fresh.append(key)
        self._db.execute("COMMIT")
        return fresh
