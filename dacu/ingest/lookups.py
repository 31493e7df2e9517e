"""Which of a chunk's referenced ids already exist in the warehouse (one bounded query per slice)."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.engine import Connection

from dacu.warehouse.schema import TABLES

_SLICE = 2000


def existing_keys(conn: Connection, table: str, column: str, values: Iterable[str]) -> set[str]:
    col = TABLES[table].c[column]
    wanted = list(dict.fromkeys(v for v in values if v is not None))
    found: set[str] = set()
    for i in range(0, len(wanted), _SLICE):
        part = wanted[i:i + _SLICE]
        found.update(conn.execute(select(col).where(col.in_(part))).scalars())
    return found


def column_by_key(conn: Connection, table: str, key: str, column: str, values: Iterable[str]) -> dict[str, object]:
    """``{key: column}`` for the given keys that exist (e.g. the category of SKUs)."""
    t = TABLES[table]
    wanted = list(dict.fromkeys(v for v in values if v is not None))
    out: dict[str, object] = {}
    for i in range(0, len(wanted), _SLICE):
        part = wanted[i:i + _SLICE]
        out.update((k, v) for k, v in conn.execute(select(t.c[key], t.c[column]).where(t.c[key].in_(part))))
    return out
