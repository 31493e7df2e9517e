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
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, TextClause, bindparam
from sqlalchemy.engine import Connection

from dacu.warehouse.sqlfiles import sql as _sql

DRY_RUN = "dry_run"      # what a backfill / dry run would have done; under its own key, never sent
FINAL_STATES = frozenset({"sent", "failed", "skipped", "holdout"})
RESEND_STATES = frozenset({"reserved", "unknown"})
IN_CHUNK = 2000         # keys per IN (...) list (SQLite allows 32766 variables)


KEY_CHANNELS = ("sms", "email", "inapp")
_PLAIN_ID = re.compile(r"[0-9A-Za-z_-]{1,36}")
_LONG_DIGITS = re.compile(r"\d{11}")
_LEGACY_KEY = re.compile(r"[0-9a-f]{64}")


def occasion_prefix(sale_id: str, strategy_id: str, wave: str) -> str:
    """The 20 hex characters every key of one send occasion starts with (sha256 of the occasion)."""
    return hashlib.sha256("\x1f".join((sale_id, strategy_id, wave)).encode("utf-8")).hexdigest()[:20]


def key_in(prefix: str, customer_id: str, channel: str) -> str:
    """The message key of a customer and channel within the occasion ``prefix`` (at most 62 characters).

    ``<prefix><channel>~<customer id>`` when the id is plain (``[0-9A-Za-z_-]``, at most 36
    characters, no run of 11 digits: never a phone number or an email), else
    ``<prefix><channel>=<sha256 of the id, 32 hex>``. Within an occasion the keys sort like the
    customer ids, which is the order the dispatcher reserves them in: the ledger's primary-key
    inserts and look-ups stay on a few index pages instead of one random page per key. The two
    forms cannot meet (``~`` / ``=`` after a channel name of letters), so distinct messages never
    share a key; every character is valid in a gateway id and an email Message-ID."""
    if channel not in KEY_CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    if _PLAIN_ID.fullmatch(customer_id) and not _LONG_DIGITS.search(customer_id):
        return f"{prefix}{channel}~{customer_id}"
    return f"{prefix}{channel}=" + hashlib.sha256(customer_id.encode("utf-8")).hexdigest()[:32]


def legacy_key(sale_id: str, strategy_id: str, wave: str, customer_id: str, channel: str) -> str:
    """The key of ledgers written before the ordered keys: sha256 hex of the message's identity.
    Still used for an occasion whose ledger rows already carry such keys (``key_maker``)."""
    raw = "\x1f".join((sale_id, strategy_id, wave, customer_id, channel))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def message_key(sale_id: str, strategy_id: str, wave: str, customer_id: str, channel: str) -> str:
    """The message's identity as a key (``key_in``); also the gateway's client message id."""
    return key_in(occasion_prefix(sale_id, strategy_id, wave), customer_id, channel)


def is_legacy_key(key: str) -> bool:
    return bool(_LEGACY_KEY.fullmatch(key))


def key_maker(conn: Connection, sale_id: str, strategy_id: str, wave: str):
    """``f(customer_id, channel) -> key`` for one occasion. An occasion already in the ledger under
    legacy keys (begun before an upgrade: held overnight, a retry, a rerun) keeps them, so its
    messages keep their identity and are never sent twice; any other occasion gets ordered keys."""
    row = conn.execute(sql("dispatch/ledger_occasion_key"),
                       {"sale_id": sale_id, "strategy_id": strategy_id, "wave": wave}).first()
    if row is not None and is_legacy_key(row[0]):
        return lambda cid, ch: legacy_key(sale_id, strategy_id, wave, cid, ch)
    prefix = occasion_prefix(sale_id, strategy_id, wave)
    return lambda cid, ch: key_in(prefix, cid, ch)


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
              dt_cols: Sequence[str] = (), plain: bool = False) -> Iterable:
    """Rows of ``dispatch/<name>`` for ``values`` bound to ``:key``: ``IN (...)`` lists in chunks,
    or on PostgreSQL ``= ANY(string_to_array(...))`` (``dispatch/pg/<name>``): an IN list of
    thousands of placeholders is parsed anew by the driver on every call. Rows are named
    tuples, or with ``plain`` on PostgreSQL the driver's own tuples (no per-row object)."""
    if not values:
        return
    if conn.dialect.name == "postgresql":
        # Straight on the driver's cursor, binary protocol: the key list goes as one text (pack)
        # and rows come back as tuples. Through SQLAlchemy, dumping 2,000 strings as a text
        # array and fetching row by row cost more than the query (profiled, bench_dispatch.py).
        from psycopg.rows import namedtuple_row, tuple_row

        query = _pg_query(name)
        raw = conn.connection.driver_connection
        with raw.cursor(row_factory=tuple_row if plain else namedtuple_row) as cur:
            for i in range(0, len(values), 10 * IN_CHUNK):
                cur.execute(query, {**(binds or {}), key: pack(values[i:i + 10 * IN_CHUNK])}, binary=True)
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


SEP = "\x1f"
# Per-message columns that go to PostgreSQL packed (one text, SEP between the items) instead of
# as binary arrays: ids, keys and short codes of our own, never containing SEP. psycopg dumps a
# list item by item in Python (a quarter of a microsecond each, about 20 per message); one
# str.join is a C loop. The SQL unpacks them with string_to_array(:name, chr(31)).
PACKED = frozenset({"message_key", "customer_id", "channel", "state"})


def pack(values: Sequence[str]) -> str:
    """``values`` as one text for ``string_to_array(:name, chr(31))``; refuses a value that holds
    the separator or is empty (it would not come back as itself)."""
    text = SEP.join(values)
    if text.count(SEP) != max(len(values) - 1, 0) or (values and "" in values):
        raise ValueError("an id or key is empty or holds the \\x1f separator")
    return text


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


# ---- bulk writes: one set-based statement per batch on PostgreSQL, executemany on SQLite ------
#
# A batch is (constant columns, rows): the constant ones (sale, strategy, wave, send time) are
# bound once, the rows are tuples in the order of the step's *_ROW columns. On PostgreSQL each
# row column goes as one binary array into ``unnest(...)`` (``dispatch/pg/<name>``): one round
# trip and one statement per step whatever the batch size, no staging table, no per-row dict.

INSERT_ROW = ("message_key", "customer_id", "channel", "state", "reason", "hold_until", "expires_at")
INSERT_CONST = ("sale_id", "strategy_id", "wave", "run_key", "msg_class", "planned_at", "updated_at")
MARK_ROW = ("message_key", "state", "reason", "provider_id", "segments", "cost", "sent_day")
MARK_CONST = ("updated_at",)
_HELD_ROW = ("message_key", "state", "reason")
_SLOT_ROW = ("customer_id", "channel", "message_key")
_RECEIPT_ROW = ("message_key", "receipt")
# PostgreSQL takes every batch size on the set-based path; the name stays for callers (tests)
# that size a batch to be sure to exercise it.
PG_BULK_MIN = 1


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


def _apply(conn: Connection, name: str, const: dict, cols: tuple[str, ...], rows: Sequence[tuple], *,
           returning: bool = False) -> set[str] | None:
    """Run ``dispatch/<name>`` for every row (``cols`` order) with the ``const`` binds.

    PostgreSQL: ``dispatch/pg/<name>`` once, each column bound as one array; with
    ``returning``, the set of keys its ``RETURNING message_key`` gave back. SQLite:
    executemany straight on the sqlite3 connection (SQLAlchemy's per-row bind processing
    doubled the cost); values are stored exactly as SQLAlchemy's types store them. None
    where the driver cannot tell which keys were written."""
    if not rows:
        return set() if returning else None
    dialect = conn.dialect.name
    if dialect == "postgresql":
        binds = dict(const)
        for c, values in zip(cols, zip(*rows)):
            binds[c] = pack(values) if c in PACKED else list(values)
        return _pg_run(conn, name, binds, returning)
    if dialect == "sqlite":
        base = {k: _sqlite_value(v) for k, v in const.items()}
        temporal = [i for i, c in enumerate(cols) if c in _DT_BINDS or c in _DATE_BINDS]
        if temporal:
            rows = [tuple(_sqlite_value(v) if i in temporal else v for i, v in enumerate(r)) for r in rows]
        conn.connection.driver_connection.executemany(
            _sql(f"dispatch/{name}").text, [{**base, **dict(zip(cols, r))} for r in rows])
        return None
    conn.execute(sql(f"dispatch/{name}"), [{**const, **dict(zip(cols, r))} for r in rows])
    return None


@contextmanager
def transaction(conn: Connection, *, durable: bool = True):
    """A transaction for the batch statements. On PostgreSQL the planner is told not to scan
    tables sequentially in it (``SET LOCAL``: this transaction only): every batch statement
    finds its rows through an index (keys, customer ids), but with the ledger's statistics
    stale mid-run (a table growing from empty) it chose sequential scans filtered by the
    batch's key list, and each batch then cost a pass over the whole ledger.

    ``durable=False`` (PostgreSQL): the commit does not wait for its WAL to reach the disk
    (``synchronous_commit = off`` for this transaction). Only for writes the next run recovers
    if a database crash loses them: the provider's answers (marks) and receipts. A lost mark
    leaves its key ``reserved`` or ``unknown``, which the next run sends again under the same
    key (the gateway acknowledges it) or reconciles from ``/v1/status``; a lost receipt is
    looked up again. A client killed mid-run loses nothing: the server still commits. The
    reservation (cap slots + reserved rows) is always durable before any provider call."""
    with conn.begin():
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off" if durable else
                                 "SELECT set_config('enable_seqscan', 'off', true), "
                                 "set_config('synchronous_commit', 'off', true)")
        yield conn


def _pg_run(conn: Connection, name: str, binds: dict, returning: bool = False) -> set[str] | None:
    """``dispatch/pg/<name>`` on the driver's cursor, binary, never as a prepared statement:
    a generic plan does not know how many keys the arrays hold (it guesses 10), and one chose a
    sequential scan filtered by a 5,000-key list per row (a 1M-key run went quadratic). Planned
    per call, a statement costs about a millisecond more per batch of thousands of keys."""
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        cur.execute(_pg_query(name), binds, binary=True, prepare=False)
        return {r[0] for r in cur.fetchall()} if returning else None


def _pg_by_value(conn: Connection, name: str, const: dict, value_cols: tuple[str, ...],
                 rows: Sequence[tuple]) -> None:
    """Rows ``(message_key, *values)``: one statement per distinct value tuple (a handful: a
    state and reason, a receipt), the keys as one array matched on the primary key."""
    groups: dict[tuple, list[str]] = {}
    for key, *values in rows:
        groups.setdefault(tuple(values), []).append(key)
    for values, keys in groups.items():
        _pg_run(conn, name, {**const, **dict(zip(value_cols, values)), "message_key": pack(keys)})


def _split(rows: list[dict], const_cols: tuple[str, ...], row_cols: tuple[str, ...]):
    """Dict rows (the older call form) as (constant binds, row tuples) groups."""
    groups: dict[tuple, list[tuple]] = {}
    for r in rows:
        groups.setdefault(tuple(r[c] for c in const_cols), []).append(tuple(r[c] for c in row_cols))
    return [(dict(zip(const_cols, k)), v) for k, v in groups.items()]


def _plain_first(conn: Connection, attempt: Callable[[], Any]) -> tuple[bool, Any]:
    """PostgreSQL: run ``attempt`` (a plain INSERT of rows believed new) in a savepoint.
    ``(True, its result)``, or ``(False, None)`` after a unique violation, rolled back to the
    savepoint so the caller can go again with ``ON CONFLICT``: a plain INSERT skips the speculative
    insertion ``ON CONFLICT`` pays per row (measured: a third of the insert)."""
    from psycopg.errors import UniqueViolation

    raw = conn.connection.driver_connection
    raw.execute("SAVEPOINT dacu_plain")
    try:
        got = attempt()
    except UniqueViolation:
        raw.execute("ROLLBACK TO SAVEPOINT dacu_plain")
        return False, None
    raw.execute("RELEASE SAVEPOINT dacu_plain")
    return True, got


def insert_batch(conn: Connection, const: dict, rows: Sequence[tuple]) -> set[str] | None:
    """Insert ``rows`` (``INSERT_ROW`` tuples; ``const``: the ``INSERT_CONST`` binds) with
    ON CONFLICT DO NOTHING. On PostgreSQL, returns the keys this call inserted (the others
    were there already); None on SQLite.

    PostgreSQL first tries a plain INSERT in a savepoint (``dispatch/pg/ledger_insert_new``):
    the caller read the batch's keys just before, so they are new but for a concurrent attempt
    racing for the same keys. Measured, ``ON CONFLICT`` costs a third of the insert (a
    speculative insertion per row: an extra index probe and WAL record). If a key is there
    after all (unique violation), the savepoint is rolled back and the batch goes again with
    ``ON CONFLICT DO NOTHING``, whose RETURNING names the keys this call inserted."""
    if rows and conn.dialect.name == "postgresql":
        done, got = _plain_first(conn, lambda: _apply(conn, "ledger_insert_new", const, INSERT_ROW, rows,
                                                      returning=True))
        if done:
            return got
    return _apply(conn, "ledger_insert", const, INSERT_ROW, rows, returning=True)


def insert(conn: Connection, rows: list[dict]) -> set[str] | None:
    """``insert_batch`` for dict rows (every INSERT_CONST and INSERT_ROW column)."""
    got: set[str] | None = set()
    for const, part in _split(rows, INSERT_CONST, INSERT_ROW):
        keys = insert_batch(conn, const, part)
        got = None if keys is None or got is None else got | keys
    return got


def record_dry(conn: Connection, const: dict, rows: Sequence[tuple]) -> None:
    """Upsert ``dry_run`` rows (``INSERT_ROW`` tuples): a later dry run replaces its own record."""
    _apply(conn, "dry_record", const, INSERT_ROW, rows)


def resolve_held(conn: Connection, updated_at: datetime, rows: Sequence[tuple[str, str, str | None]]) -> None:
    """Held keys whose window opened: ``(message_key, state, reason)`` (reserved or skipped)."""
    if rows and conn.dialect.name == "postgresql":
        _pg_by_value(conn, "ledger_resolve_held", {"updated_at": updated_at}, _HELD_ROW[1:], rows)
        return
    _apply(conn, "ledger_resolve_held", {"updated_at": updated_at}, _HELD_ROW, rows)


def mark_batch(conn: Connection, updated_at: datetime, rows: Sequence[tuple]) -> None:
    """The provider's answers: ``MARK_ROW`` tuples.

    PostgreSQL: the mark joins the batch's keys (a function scan of the arrays) to their ledger
    rows, and is told not to use a nested loop (``SET LOCAL``, this transaction). Once the
    statistics say nearly every row of the ledger is final, the planner expects the batch's
    rows still ``reserved`` to be one and chose a nested loop rescanning the 5,000 arrays'
    rows for each ledger row: 25 million comparisons, ten seconds a batch (EXPLAIN ANALYZE,
    docs/dispatch.md). A hash join of the rows found by primary key costs the same whatever
    the estimate."""
    if rows and conn.dialect.name == "postgresql":
        conn.connection.driver_connection.execute(
            "SELECT set_config('enable_nestloop', 'off', true), set_config('enable_seqscan', 'off', true)")
    _apply(conn, "ledger_mark", {"updated_at": updated_at}, MARK_ROW, rows)


def mark(conn: Connection, rows: list[dict]) -> None:
    """``mark_batch`` for dict rows: message_key, state, reason, provider_id, segments, cost, sent_day, updated_at."""
    for const, part in _split(rows, MARK_CONST, MARK_ROW):
        mark_batch(conn, const["updated_at"], part)


def pending(conn: Connection, sale_id: str, strategy_id: str, wave: str) -> list[LedgerRow]:
    res = conn.execute(sql("dispatch/ledger_pending"),
                       {"sale_id": sale_id, "strategy_id": strategy_id, "wave": wave})
    return [LedgerRow(r.message_key, r.customer_id, r.channel, r.state, None, None, None, 0) for r in res]


def awaiting_receipt(engine, sale_id: str, strategy_id: str, wave: str, *, page: int = 5000) -> Iterator[list[str]]:
    """Sent gateway keys without a receipt, ``page`` keys at a time, from one query streamed on
    a connection of its own (a server-side cursor on PostgreSQL): memory stays flat in the crowd
    size, and the caller may write receipts meanwhile on its own connection. A query per page
    (keyset) re-read the occasion's index entries every time: quadratic in the crowd size."""
    with engine.connect() as conn, conn.begin():
        res = conn.execution_options(stream_results=True, yield_per=page).execute(
            sql("dispatch/ledger_awaiting_receipt"), {"sale_id": sale_id, "strategy_id": strategy_id, "wave": wave})
        for part in res.partitions(page):
            yield [r[0] for r in part]


def set_receipts(conn: Connection, receipts: dict[str, str], at: datetime) -> None:
    """Delivery receipts (``{key: delivered|failed}``); a key's first receipt stays."""
    if receipts and conn.dialect.name == "postgresql":
        _pg_by_value(conn, "ledger_set_receipt", {"receipt_at": at}, _RECEIPT_ROW[1:], list(receipts.items()))
        return
    _apply(conn, "ledger_set_receipt", {"receipt_at": at}, _RECEIPT_ROW, list(receipts.items()))


def counts(conn: Connection, sale_id: str, strategy_id: str, wave: str) -> list:
    return list(conn.execute(sql("dispatch/ledger_counts", dt_cols=("first_hold_until",)),
                             {"sale_id": sale_id, "strategy_id": strategy_id, "wave": wave}))


def by_sale(conn: Connection, sale_id: str) -> list:
    return list(conn.execute(sql("dispatch/ledger_by_sale"), {"sale_id": sale_id}))


# ---- cap slots ---------------------------------------------------------------------------------

def claim_slots(conn: Connection, scope: str, period: str, cap: int,
                items: Sequence[tuple[str, str, str]], memo: dict | None = None) -> set[str]:
    """Give each ``(key, customer_id, channel)`` a free slot in 1..cap; returns the keys that hold one.

    Slots are taken with INSERT .. ON CONFLICT DO NOTHING, so concurrent strategies never
    overbook. No pre-check for slots already held: slots are claimed in the same transaction
    that writes the key's ledger row (reserve, or held -> reserved), so a key reaching this
    point holds none; a concurrent duplicate attempt's committed slot is named as held.
    One statement per slot number on PostgreSQL (claim and check together), two on SQLite.

    PostgreSQL tries slot 1 for the whole batch with a plain INSERT in a savepoint first (no
    speculative insertion per row, as ``insert_batch``): while the scope is empty for these
    customers, that is the whole claim. On a unique violation the savepoint is rolled back and
    the slots are claimed one number at a time as above; ``memo`` (the caller's, per call)
    remembers the scope, so later batches go straight to that path.
    """
    if not items or cap <= 0:
        return set()
    pg = conn.dialect.name == "postgresql"
    if pg and (memo is None or memo.get((scope, period), True)):
        done, _ = _plain_first(conn, lambda: _pg_run(conn, "cap_claim_new", {
            "scope": scope, "period": period, "slot": 1, "customer_id": pack([c for _, c, _ in items]),
            "channel": pack([ch for _, _, ch in items]), "message_key": pack([k for k, _, _ in items])}))
        if done:
            return {k for k, _, _ in items}
        if memo is not None:
            memo[(scope, period)] = False
    holders: set[str] = set()
    waiting = list(items)
    for slot in range(1, cap + 1):
        if not waiting:
            break
        rows = [(c, ch, k) for k, c, ch in waiting]
        const = {"scope": scope, "period": period, "slot": slot}
        if pg:
            got = _pg_run(conn, "cap_claim", {**const, "customer_id": pack([r[0] for r in rows]),
                                              "channel": pack([r[1] for r in rows]),
                                              "message_key": pack([r[2] for r in rows])}, returning=True)
        else:
            _apply(conn, "cap_claim", const, _SLOT_ROW, rows)
            mine = {k for k, _, _ in waiting}
            got = {r.message_key for r in select_in(conn, "cap_owned", "ids", sorted({c for _, c, _ in waiting}),
                                                     {"scope": scope, "period": period})} & mine
        holders |= got
        waiting = [it for it in waiting if it[0] not in got]
    return holders


def release_slots(conn: Connection, scopes: Iterable[tuple[str, str]],
                  items: Iterable[tuple[str, str, str]]) -> None:
    """Give back the slots that ``(key, customer_id, channel)`` items hold in each ``(scope, period)``."""
    items = list(items)
    if not items:
        return
    for scope, period in scopes:
        const = {"scope": scope, "period": period}
        if conn.dialect.name == "postgresql":
            _pg_run(conn, "cap_release", {**const, "customer_id": pack([c for _, c, _ in items]),
                                          "message_key": pack([k for k, _, _ in items])})
        else:
            _apply(conn, "cap_release", const, _SLOT_ROW, [(c, ch, k) for k, c, ch in items])


def slots_used(conn: Connection, scope: str, period: str, customer_ids: Sequence[str]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for r in select_in(conn, "cap_used", "ids", list(customer_ids), {"scope": scope, "period": period}):
        out[(r.customer_id, r.channel)] = int(r.n)
    return out


def day_str(d: date) -> str:
    return d.isoformat()
