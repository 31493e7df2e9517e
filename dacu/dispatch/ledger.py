"""The dispatch ledger (outbox): deterministic message keys, reserve-before-send, mark-after.

State machine of one key (docs/dispatch.md):

    (new) ─┬─> holdout                     virtual send, never sent
           ├─> skipped(reason)             a send-time rule said no
           ├─> held ──(window opens)──> reserved | skipped(quiet_hours_expired, cap_*, ...)
           └─> reserved ──(provider)──> sent | failed(code) | unknown ──(status/resend)──> sent | failed

A key is inserted with ``ON CONFLICT DO NOTHING`` *before* the provider call, so
any later attempt (rerun, cleared task, duplicate worker, backfill) finds it.
``reserved`` and ``unknown`` keys are sent again under the same key, which the
gateway acknowledges without sending twice.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime

from sqlalchemy import Date, DateTime, TextClause, bindparam
from sqlalchemy.engine import Connection

from dacu.warehouse.sqlfiles import sql as _sql

DRY_RUN = "dry_run"      # what a backfill / dry run would have done; under its own key, never sent
FINAL_STATES = frozenset({"sent", "failed", "skipped", "holdout"})
RESEND_STATES = frozenset({"reserved", "unknown"})
IN_CHUNK = 2000         # keys per IN (...) list (SQLite allows 32766 variables)


def message_key(sale_id: str, strategy_id: str, wave: str, customer_id: str, channel: str) -> str:
    """sha256 hex of the message's identity; also the gateway's client message id."""
    raw = "\x1f".join((sale_id, strategy_id, wave, customer_id, channel))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def occasion(wave_id: str | None, gate_local: datetime, *, daily: bool) -> str:
    """The ``wave`` part of a key: the playbook wave and the gate moment it was planned for.

    ``daily`` (event-driven reminders checked every few minutes): the sale-local day,
    so a strategy reminds a customer at most once a day whatever the micro-batch.
    The gate moment comes from the crowd snapshot, never from the send time, so a
    message held by quiet hours keeps its key when it is sent the next morning.
    """
    stamp = gate_local.strftime("%Y-%m-%d") if daily else gate_local.strftime("%Y-%m-%dT%H:%M")
    return f"{(wave_id or '-')[:40]}@{stamp}"


def dry_key(key: str) -> str:
    """The key a dry run records a message under: apart from the real key, so recording what
    would have been sent never blocks (or counts as) the real send of that message later."""
    return hashlib.sha256(f"{DRY_RUN}\x1f{key}".encode()).hexdigest()


@dataclass(frozen=True)
class LedgerRow:
    message_key: str
    customer_id: str
    channel: str
    state: str
    reason: str | None
    hold_until: datetime | None
    expires_at: datetime | None
    attempts: int


# Datetime binds and result columns are typed: on SQLite an untyped bind is stored without
# SQLAlchemy's microseconds (breaking comparisons) and an untyped column comes back as text.
_DT_BINDS = ("planned_at", "hold_until", "expires_at", "updated_at", "receipt_at", "since", "as_of")
_DATE_BINDS = ("sent_day",)


def sql(name: str, *expanding: str, dt_cols: Sequence[str] = ()) -> TextClause:
    """``include/sql/<name>.sql`` with expanding lists, typed datetime binds and typed result columns."""
    stmt = _sql(name)
    body = stmt.text
    binds = [bindparam(k, expanding=True) for k in expanding]
    binds += [bindparam(k, type_=DateTime) for k in _DT_BINDS if f":{k}" in body]
    binds += [bindparam(k, type_=Date) for k in _DATE_BINDS if f":{k}" in body]
    if binds:
        stmt = stmt.bindparams(*binds)
    if dt_cols:
        stmt = stmt.columns(**{c: DateTime for c in dt_cols})
    return stmt


def select_in(conn: Connection, name: str, key: str, values: Sequence[str], binds: dict | None = None,
              dt_cols: Sequence[str] = ()) -> Iterable:
    """Rows of ``dispatch/<name>`` for ``values`` bound to ``:key``: ``IN (...)`` lists in chunks,
    or on PostgreSQL ``= ANY(array)`` (``dispatch/pg/<name>``): an IN list of thousands of
    placeholders is parsed anew by the driver on every call."""
    if not values:
        return
    if conn.dialect.name == "postgresql":
        # Straight on the driver's cursor, binary protocol: the key list goes as one binary array
        # and rows come back as plain tuples. Through SQLAlchemy, dumping 2,000 strings as a text
        # array and fetching row by row cost more than the query (profiled, bench_dispatch.py).
        from psycopg.rows import namedtuple_row

        query = _pg_query(name)
        raw = conn.connection.driver_connection
        with raw.cursor(row_factory=namedtuple_row) as cur:
            for i in range(0, len(values), 10 * IN_CHUNK):
                cur.execute(query, {**(binds or {}), key: list(values[i:i + 10 * IN_CHUNK])}, binary=True)
                yield from cur.fetchall()
        return
    # SQLite: the driver's cursor too, with a cached statement per padded list size (chunks()):
    # SQLAlchemy re-renders an expanding IN list on every call.
    raw = conn.connection.driver_connection
    base = {k: _sqlite_value(v) for k, v in (binds or {}).items()}
    cur = raw.cursor()
    try:
        for chunk in chunks(values):
            query, names = _sqlite_in_query(name, key, len(chunk))
            cur.execute(query, {**base, **dict(zip(names, chunk))})
            row = _row_type(name, tuple(d[0] for d in cur.description))
            dt_at = [i for i, d in enumerate(cur.description) if d[0] in dt_cols]
            for r in cur.fetchall():
                if dt_at:
                    r = list(r)
                    for i in dt_at:
                        if r[i] is not None:
                            r[i] = datetime.fromisoformat(r[i])
                yield row._make(r)
    finally:
        cur.close()


@lru_cache(maxsize=256)
def _sqlite_in_query(name: str, key: str, n: int) -> tuple[str, tuple[str, ...]]:
    names = tuple(f"_{key}{i}" for i in range(n))
    text = _sql(f"dispatch/{name}").text.replace(f"IN :{key}", "IN (" + ", ".join(":" + k for k in names) + ")")
    return text, names


@lru_cache(maxsize=64)
def _row_type(name: str, cols: tuple[str, ...]):
    from collections import namedtuple

    return namedtuple(name.title().replace("_", ""), cols)


def raw_rows(conn: Connection, name: str, binds: dict) -> list:
    """All rows of ``dispatch/<name>`` (scalar binds, no datetime columns) as named tuples, read
    on the driver's own cursor: a million snapshot rows through SQLAlchemy's row objects cost
    tens of seconds."""
    from collections import namedtuple

    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        from psycopg.rows import namedtuple_row

        with raw.cursor(row_factory=namedtuple_row) as cur:
            cur.execute(_BIND.sub(r"%(\1)s", _sql(f"dispatch/{name}").text), binds)
            return cur.fetchall()
    cur = raw.cursor()
    try:
        cur.execute(_sql(f"dispatch/{name}").text, binds)      # sqlite3 takes :name binds itself
        row = namedtuple(name.title().replace("_", ""), [d[0] for d in cur.description])
        return [row._make(r) for r in cur.fetchall()]
    finally:
        cur.close()


_BIND = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@lru_cache(maxsize=64)
def _pg_query(name: str) -> str:
    """``dispatch/pg/<name>.sql`` in psycopg's ``%(name)b`` style (the files hold no ``%``); binary
    parameters: a list of 2,000 strings as a text array costs a regex per element."""
    return _BIND.sub(r"%(\1)b", _sql(f"dispatch/pg/{name}").text)


def chunks(seq: Sequence, n: int = IN_CHUNK) -> Iterable[list]:
    """Slices for ``IN :list`` binds, padded (by repeating the last value) to a power of two so
    that only a handful of statement shapes exist and the driver's query cache hits."""
    for i in range(0, len(seq), n):
        part = list(seq[i:i + n])
        size = 16
        while size < len(part):
            size *= 2
        yield part + [part[-1]] * (min(size, n) - len(part))


def fetch(conn: Connection, keys: Sequence[str]) -> dict[str, LedgerRow]:
    out: dict[str, LedgerRow] = {}
    for r in select_in(conn, "ledger_select", "keys", list(keys), dt_cols=("hold_until", "expires_at")):
        out[r.message_key] = LedgerRow(r.message_key, r.customer_id, r.channel, r.state, r.reason,
                                       r.hold_until, r.expires_at, r.attempts)
    return out


# ---- bulk writes: executemany everywhere, COPY + one set-based statement on PostgreSQL --------

_INSERT_COLS = ("message_key", "sale_id", "strategy_id", "wave", "run_key", "customer_id", "channel", "msg_class",
                "state", "reason", "planned_at", "hold_until", "expires_at", "updated_at")
_MARK_COLS = ("message_key", "state", "reason", "provider_id", "segments", "cost", "sent_day", "updated_at")
_SLOT_COLS = ("scope", "period", "customer_id", "channel", "slot", "message_key")
_RECEIPT_COLS = ("message_key", "receipt", "receipt_at")
PG_BULK_MIN = 50        # below this many rows executemany is as quick as COPY


def _sqlite_value(v):
    if v is None:
        return None
    if isinstance(v, datetime):
        return _sqlite_dt(v)
    if isinstance(v, date):
        return v.isoformat()
    return v


@lru_cache(maxsize=4096)
def _sqlite_dt(v: datetime) -> str:
    # a batch repeats the same few moments (send time, hold until): format each once
    return v.strftime("%Y-%m-%d %H:%M:%S.%f")        # SQLAlchemy's SQLite DateTime format


_COPY_ESC = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(v) -> str:
    """A value in COPY's text format (NULL is \\N; backslash, tab and newlines escaped)."""
    if v is None:
        return "\\N"
    if isinstance(v, str):
        return v.translate(_COPY_ESC) if ("\\" in v or "\t" in v or "\n" in v or "\r" in v) else v
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    return str(v)               # int, float, Decimal, date


_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")


def _copy_block(rows: list[dict], cols: tuple[str, ...]) -> str:
    """The rows in COPY's text format. Columns that repeat across the batch (sale, strategy,
    wave, send time, state) are formatted once; plain strings go as they are."""
    const = {c for c in cols if rows[0][c] == rows[-1][c]}
    memo: dict = {}
    lines = []
    special = _COPY_SPECIAL.search
    for r in rows:
        parts = []
        for c in cols:
            v = r[c]
            if type(v) is str and c not in const:
                parts.append(v.translate(_COPY_ESC) if special(v) else v)
            elif c in const:
                t = memo.get((c, v))
                if t is None:
                    t = memo[(c, v)] = _copy_text(v)
                parts.append(t)
            else:
                parts.append(_copy_text(v))
        lines.append("\t".join(parts))
    return "\n".join(lines) + "\n"


def _bulk(conn: Connection, name: str, rows: list[dict], cols: tuple[str, ...], *,
          returning: bool = False) -> set[str] | None:
    """Run ``dispatch/<name>`` for every row. On PostgreSQL the rows are COPYed into a staging
    table and applied by ``dispatch/pg/<name>`` in one statement (same transaction): an
    executemany costs a round trip's worth of work per row, COPY does not.
    ``returning``: on that path, the keys the statement's ``RETURNING message_key`` gave
    back (None on the other paths)."""
    if not rows:
        return set() if returning else None
    if conn.dialect.name == "sqlite":
        # sqlite3 takes :name binds itself; skipping SQLAlchemy's per-row bind processing
        # halves the cost. Values are stored exactly as SQLAlchemy's types store them.
        raw = conn.connection.driver_connection
        temporal = [k for k, v in rows[0].items() if isinstance(v, (date, datetime))
                    or (v is None and k in _DT_BINDS + _DATE_BINDS)]
        if temporal:
            rows = [{**r, **{k: _sqlite_value(r[k]) for k in temporal}} for r in rows]
        raw.executemany(_sql(f"dispatch/{name}").text, rows)
        return None
    if conn.dialect.name != "postgresql" or len(rows) < PG_BULK_MIN:
        conn.execute(sql(f"dispatch/{name}"), rows)
        return None
    conn.execute(_sql("dispatch/pg/stage_create"))
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        with cur.copy(f"COPY dispatch_stage ({', '.join(cols)}) FROM STDIN") as copy:   # cols: constants above
            # one text block in COPY's own format: write_row adapts value by value, 3x slower
            copy.write(_copy_block(rows, cols))
    res = conn.execute(_sql(f"dispatch/pg/{name}"))
    got = {r[0] for r in res} if returning else None
    conn.execute(_sql("dispatch/pg/stage_clear"))
    return got


def insert(conn: Connection, rows: list[dict]) -> set[str] | None:
    """Insert (ON CONFLICT DO NOTHING). On PostgreSQL's bulk path, returns the keys this call
    inserted (the others were there already); None where the driver cannot tell."""
    return _bulk(conn, "ledger_insert", rows, _INSERT_COLS, returning=True)


def record_dry(conn: Connection, rows: list[dict]) -> None:
    """Upsert ``dry_run`` rows (a later dry run replaces its own earlier record)."""
    _bulk(conn, "dry_record", rows, _INSERT_COLS)


def resolve_held(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(sql("dispatch/ledger_resolve_held"), rows)


def mark(conn: Connection, rows: list[dict]) -> None:
    """rows: message_key, state, reason, provider_id, segments, cost, sent_day, updated_at."""
    _bulk(conn, "ledger_mark", rows, _MARK_COLS)


def pending(conn: Connection, sale_id: str, strategy_id: str, wave: str) -> list[LedgerRow]:
    res = conn.execute(sql("dispatch/ledger_pending"),
                       {"sale_id": sale_id, "strategy_id": strategy_id, "wave": wave})
    return [LedgerRow(r.message_key, r.customer_id, r.channel, r.state, None, None, None, 0) for r in res]


def awaiting_receipt(conn: Connection, sale_id: str, strategy_id: str, wave: str) -> list[str]:
    res = conn.execute(sql("dispatch/ledger_awaiting_receipt"),
                       {"sale_id": sale_id, "strategy_id": strategy_id, "wave": wave})
    return [r.message_key for r in res]


def set_receipts(conn: Connection, receipts: dict[str, str], at: datetime) -> None:
    _bulk(conn, "ledger_set_receipt", [{"message_key": k, "receipt": v, "receipt_at": at}
                                        for k, v in receipts.items()], _RECEIPT_COLS)


def counts(conn: Connection, sale_id: str, strategy_id: str, wave: str) -> list:
    return list(conn.execute(sql("dispatch/ledger_counts", dt_cols=("first_hold_until",)),
                             {"sale_id": sale_id, "strategy_id": strategy_id, "wave": wave}))


def by_sale(conn: Connection, sale_id: str) -> list:
    return list(conn.execute(sql("dispatch/ledger_by_sale"), {"sale_id": sale_id}))


# ---- cap slots ---------------------------------------------------------------------------------

def claim_slots(conn: Connection, scope: str, period: str, cap: int,
                items: Sequence[tuple[str, str, str]]) -> set[str]:
    """Give each ``(key, customer_id, channel)`` a free slot in 1..cap; returns the keys that hold one.

    A key that already holds a slot (rerun) keeps it. Slots are taken with
    INSERT .. ON CONFLICT DO NOTHING, so concurrent strategies never overbook.
    """
    if not items or cap <= 0:
        return set()
    def owned(keys: list[str]) -> set[str]:
        return {r.message_key for r in select_in(conn, "cap_owned", "keys", keys,
                                                 {"scope": scope, "period": period})}

    # No pre-check for slots already held: slots are claimed in the same transaction that
    # writes the key's ledger row (reserve, or held -> reserved), so a key reaching this
    # point holds none; a concurrent duplicate attempt's slot shows up in owned() below.
    holders: set[str] = set()
    waiting = list(items)
    for slot in range(1, cap + 1):
        if not waiting:
            break
        _bulk(conn, "cap_claim", [
            {"scope": scope, "period": period, "customer_id": c, "channel": ch, "slot": slot, "message_key": k}
            for k, c, ch in waiting], _SLOT_COLS)
        got = owned([k for k, _, _ in waiting])
        holders |= got
        waiting = [it for it in waiting if it[0] not in got]
    return holders


def release_slots(conn: Connection, keys: Iterable[str]) -> None:
    rows = [{"message_key": k} for k in keys]
    if rows:
        conn.execute(sql("dispatch/cap_release"), rows)


def slots_used(conn: Connection, scope: str, period: str, customer_ids: Sequence[str]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for r in select_in(conn, "cap_used", "ids", list(customer_ids), {"scope": scope, "period": period}):
        out[(r.customer_id, r.channel)] = int(r.n)
    return out


def day_str(d: date) -> str:
    return d.isoformat()
