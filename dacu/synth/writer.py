"""Bulk writers of generated rows, one per backend, inside ONE transaction.

SQLite: the raw DBAPI connection's ``executemany`` with a rollback journal and
``synchronous=OFF`` for the load (restored after). PostgreSQL: psycopg 3
``COPY ... FROM STDIN`` in text format. Secondary indexes of the loaded tables
are dropped before and recreated (same names, from schema.py) after the load.
Columns arrive as numpy arrays from dacu.synth.shop: times as sale-local int64
seconds (``NULL`` = missing; written as naive UTC), money as int64 cents.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any, Iterable

import numpy as np
from sqlalchemy import Boolean, Connection, DateTime, Integer, Numeric
from sqlalchemy.schema import CreateIndex, DropIndex

from dacu.synth.calendar import DAY, UTC_OFFSET_S
from dacu.synth.shop import NULL
from dacu.warehouse.schema import TABLES
from dacu.warehouse.sqlfiles import sql, sql_text

log = logging.getLogger(__name__)

LOADED_TABLES = ("customers", "skus", "orders", "order_items", "events", "coupons", "coupon_grants")


def _kind(column) -> str:
    t = column.type
    if isinstance(t, DateTime):
        return "ts"
    if isinstance(t, Numeric):
        return "money"
    if isinstance(t, Boolean):
        return "bool"
    if isinstance(t, Integer):
        return "int"
    return "str"


def _rebuilt_indexes() -> list:
    """Secondary indexes of the loaded tables: dropped for the load, rebuilt after it.

    Measured at 50k customers: a bulk build after the load beats keeping even the
    customer-led indexes (rows arrive in customer order) up to date, ~20 s vs ~26 s.
    """
    return [idx for name in LOADED_TABLES for idx in sorted(TABLES[name].indexes, key=lambda i: i.name)]


def statements(name: str) -> list[str]:
    """The statements of a multi-statement SQL file of include/sql/synth/ (split on ';' at line end)."""
    body = "\n".join(line for line in sql_text(f"synth/{name}").splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in body.split(";\n") if s.strip().rstrip(";").strip()]


class _TimeFormat:
    """Vectorised local seconds -> 'YYYY-MM-DD HH:MM:SS.000000' naive UTC (SQLAlchemy's SQLite format)."""

    def __init__(self, lo: int, hi: int):
        self.d0 = (lo - UTC_OFFSET_S) // DAY - 1
        n_days = (hi - UTC_OFFSET_S) // DAY + 2 - self.d0
        epoch = date(1970, 1, 1)
        self.days = np.array([(epoch + timedelta(days=int(self.d0 + i))).isoformat() for i in range(n_days)])
        sec = np.arange(DAY)
        self.tods = np.array([f" {h:02d}:{m:02d}:{s:02d}.000000" for h, m, s in
                              zip(sec // 3600, (sec // 60) % 60, sec % 60)])

    def __call__(self, t: np.ndarray) -> np.ndarray:
        missing = t == NULL
        utc = np.where(missing, (self.d0 + 1) * DAY, t - UTC_OFFSET_S)
        out = np.strings.add(self.days[utc // DAY - self.d0], self.tods[utc % DAY]).astype(object)
        if missing.any():
            out[missing] = None
        return out


def _with_nulls(values: np.ndarray, missing: np.ndarray) -> list:
    if not missing.any():
        return values.tolist()
    out = values.astype(object)
    out[missing] = None
    return out.tolist()


class BulkWriter:
    """Shared plumbing; subclasses implement ``_copy_rows`` and the wipe/pragma details."""

    dialect_name = ""

    def __init__(self, conn: Connection, span: tuple[int, int]):
        self.conn = conn
        self.fmt = _TimeFormat(*span)
        self.batch_id: int | None = None
        self.rows: dict[str, int] = {t: 0 for t in LOADED_TABLES}

    # -- life cycle ----------------------------------------------------------------------------
    def begin(self, *, source: str, started_at: datetime, period: tuple[datetime, datetime]) -> int:
        self._prepare()
        self._wipe()
        for idx in _rebuilt_indexes():
            self.conn.execute(DropIndex(idx, if_exists=True))
        self.batch_id = int(self.conn.execute(sql("synth/batch_start"), {
            "source": source, "started_at": started_at,
            "period_start": period[0], "period_end": period[1]}).scalar_one())
        return self.batch_id

    def finish(self, finished_at: datetime) -> None:
        for idx in _rebuilt_indexes():
            self.conn.execute(CreateIndex(idx))
        self.conn.execute(sql("synth/batch_finish"), {
            "finished_at": finished_at, "rows": sum(self.rows.values()), "status": "done",
            "batch_id": self.batch_id})
        for stmt in statements("analyze"):
            self.conn.exec_driver_sql(stmt)
        self.conn.commit()

    def abort(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        """Restore connection settings changed for the load (after commit or rollback)."""

    # -- rows ------------------------------------------------------------------------------------
    def write(self, table: str, columns: dict[str, Any]) -> int:
        """Write one table's columns (missing ``import_batch_id`` is filled with the batch id)."""
        return self.insert(self.convert(table, columns))

    def convert(self, table: str, columns: dict[str, Any]) -> tuple[str, list[list], int]:
        """Backend values per column (thread-safe: a producer thread may call it)."""
        cols = TABLES[table].columns
        n = len(next(iter(columns.values())))
        values = []
        for col in cols:
            if col.name == "import_batch_id" and col.name not in columns:
                values.append(self._constant(self.batch_id, n, "int"))
                continue
            values.append(self._convert(np.asarray(columns[col.name]), _kind(col)))
        return table, self._pack(values), n

    def insert(self, converted: tuple[str, Any, int]) -> int:
        table, payload, n = converted
        if n:
            self._copy_rows(table, [c.name for c in TABLES[table].columns], payload, n)
            self.rows[table] += n
        return n

    def _constant(self, value: Any, n: int, kind: str) -> Iterable:
        return self._convert(np.full(n, value, dtype=np.int64), kind)

    def _convert(self, a: np.ndarray, kind: str) -> list:  # pragma: no cover - abstract
        raise NotImplementedError

    def _copy_rows(self, table: str, names: list[str], values: list[list], n: int) -> None:  # pragma: no cover
        raise NotImplementedError

    def _pack(self, values: list[list]) -> Any:
        return values

    def _prepare(self) -> None:
        pass

    def _wipe(self) -> None:
        for stmt in statements("wipe"):
            self.conn.exec_driver_sql(stmt)


class SQLiteWriter(BulkWriter):
    dialect_name = "sqlite"

    def __init__(self, conn: Connection, span: tuple[int, int]):
        super().__init__(conn, span)
        self.raw = conn.connection.driver_connection
        self._inserts = {name: str(TABLES[name].insert().compile(dialect=conn.dialect))
                         for name in LOADED_TABLES}

    def _prepare(self) -> None:
        # PRAGMA journal_mode cannot change inside a transaction: run before the first DML
        for stmt in statements("sqlite_bulk_begin"):
            got = self.raw.execute(stmt).fetchall()
            if stmt.lower().startswith("pragma journal_mode") and got and str(got[0][0]).lower() == "wal":
                log.warning("another connection holds the SQLite warehouse: loading in WAL mode (slower)")

    def close(self) -> None:
        for stmt in statements("sqlite_bulk_end"):
            try:
                self.raw.execute(stmt).fetchall()
            except Exception as exc:  # noqa: BLE001 - best effort: connect.py sets these again on reconnect
                log.warning("could not restore SQLite setting (%s): %s", stmt, exc)

    def _convert(self, a: np.ndarray, kind: str) -> list:
        if kind == "ts":
            return self.fmt(a).tolist()
        if kind == "money":
            return _with_nulls(a / 100.0, a == NULL)
        if kind == "int":
            return _with_nulls(a, a == NULL)
        if kind == "bool":
            return a.astype(np.int64).tolist()
        return a.tolist()

    def _copy_rows(self, table: str, names: list[str], values: list[list], n: int) -> None:
        self.raw.executemany(self._inserts[table], zip(*values))


class PostgresWriter(BulkWriter):
    dialect_name = "postgresql"

    def __init__(self, conn: Connection, span: tuple[int, int]):
        super().__init__(conn, span)
        self.raw = conn.connection.driver_connection

    def _wipe(self) -> None:
        for stmt in statements("wipe_postgres"):
            self.conn.exec_driver_sql(stmt)

    def _convert(self, a: np.ndarray, kind: str) -> list:
        # COPY text format: \N is NULL; our generated text never holds tabs, newlines or backslashes
        if kind == "ts":
            out = self.fmt(a)
            out[a == NULL] = r"\N"
            return out.tolist()
        if kind == "money":
            missing = a == NULL
            s = (a / 100.0).astype(str).astype(object)
            s[missing] = r"\N"
            return s.tolist()
        if kind == "int":
            s = a.astype(str).astype(object)
            s[a == NULL] = r"\N"
            return s.tolist()
        if kind == "bool":
            return np.where(a.astype(bool), "t", "f").tolist()
        if a.dtype == object:
            return [r"\N" if v is None else v for v in a.tolist()]
        return a.tolist()

    def _pack(self, values: list[list]) -> bytes:
        return ("\n".join(map("\t".join, zip(*values))) + "\n").encode("utf-8")

    def _copy_rows(self, table: str, names: list[str], payload: bytes, n: int) -> None:
        from psycopg import sql as pgsql

        stmt = pgsql.SQL("COPY {} ({}) FROM STDIN").format(
            pgsql.Identifier(table), pgsql.SQL(", ").join(pgsql.Identifier(c) for c in names))
        with self.raw.cursor() as cur, cur.copy(stmt) as copy:
            copy.write(payload)


def writer_for(conn: Connection, span: tuple[int, int]) -> BulkWriter:
    name = conn.dialect.name
    if name == "sqlite":
        return SQLiteWriter(conn, span)
    if name == "postgresql":
        return PostgresWriter(conn, span)
    raise ValueError(f"dacu data generate supports SQLite and PostgreSQL warehouses, not {name}")
