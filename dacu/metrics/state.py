"""The incremental metric state: what a day's snapshot would otherwise re-derive from all history.

Why: the reference SQL (``crowd_funnel.sql``, ``store_rv.sql``, ``warmup_day.sql``) derives the
whole-store crowd (everyone known by the day's end), the old crowd (a payment before the reference
day) and "active in the 90 days before" from every order and event, so one day cost ~55x one pass
over its own rows. Those facts are per customer and change only when data is loaded, so they are
built once per data mark (the import batches seen, as crowds' feature builds) and every day after
that reads its own rows plus keyed lookups (``include/sql/metrics/day/*.sql``):

- ``metric_customer_state``: first_known_at, first_pay_at, member_since, fan_since per customer id;
- ``metric_offindex_rows``: the rare rows a day's indexed reads would miss (presale balances paid at
  another moment than ``paid_at``; events of a type the import contract does not know);
- ``metric_active_spells`` per (timezone, active_rv_days): RV customers' activity spells in
  sale-local day numbers, via ``metric_day_calendar`` (UTC date -> local day, built in Python).

Whatever order days are computed in, they read the same state: it depends on the data only, not
on which days ran before. A build replaces its key in one transaction that first deletes the stale
build row and inserts its own: a concurrent builder of the same key (parallel backfill runs) blocks
on that row (PostgreSQL: the primary key; SQLite: the write lock), then finds the build done and
reuses it. Readers re-check the build ids after reading (:func:`build_ids`) and retry if a rebuild
committed in between. Rows written outside the import path (no import batch) are not seen until a
rebuild (``ensure_state(..., rebuild=True)``, or :func:`drop_state`).
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from dacu.warehouse.schema import (
    metric_active_spells, metric_customer_state, metric_day_calendar, metric_offindex_rows, metric_state_builds,
)
from dacu.warehouse.sqlfiles import sql

log = logging.getLogger(__name__)

STATE_VERSION = 1            # bump when a build SQL or the state columns change: older builds are rebuilt
CUSTOMERS_KEY = "customers"
# Local days the calendar covers. Activity outside it can never fall in the active window of a day
# inside it (the window is active_rv_days before the day); days outside use the reference SQL.
CALENDAR_FIRST = date(1990, 1, 1)
CALENDAR_LAST = date(2100, 12, 31)
LOCK_WAIT_SECONDS = 1800     # SQLite: how long a builder waits for a concurrent build of the same key


@dataclass(frozen=True)
class StateBuild:
    key: str
    build_id: str
    rows: int
    seconds: float
    built: bool              # False: reused a build made earlier (by this or another task)


@dataclass(frozen=True)
class State:
    """The two builds a snapshot reads: per-customer state and the spells of (tz, window_days)."""
    customers: StateBuild
    spells: StateBuild
    builds: tuple[StateBuild, ...] = field(default=())

    @property
    def ids(self) -> tuple[str, str]:
        return self.customers.build_id, self.spells.build_id

    @property
    def build_seconds(self) -> float:
        return sum(b.seconds for b in self.builds if b.built)


def spells_key(tz: str, window_days: int) -> str:
    return f"spells|{tz}|{window_days}"


def data_mark(conn: Connection) -> str:
    """The import batches seen, as a short key (a hash: the parts do not fit the 64-character column)."""
    import hashlib

    row = conn.execute(sql("metrics/state/data_mark")).one()
    n, last_id, done, loaded, started, finished = row
    parts = [n, last_id or 0, done or 0, loaded or 0, _iso(started), _iso(finished)]
    return f"{n}:{last_id or 0}:" + hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


def _iso(value) -> str:
    # SQLite returns MAX() of a DateTime column as text, PostgreSQL as a datetime: one spelling for both
    if value is None:
        return ""
    text = value.isoformat(sep=" ") if isinstance(value, datetime) else str(value)
    return text.rstrip("0").rstrip(".") if "." in text else text


def _utc(dt: datetime) -> datetime:
    return dt.astimezone(timezone.utc).replace(tzinfo=None)


@lru_cache(maxsize=8)
def calendar_rows(tz: str) -> tuple[dict, ...]:
    """One row per UTC date: the local day numbers (date.toordinal()) of its parts, split at the local
    midnights falling inside it (one for a fixed offset; none or two around some DST changes)."""
    zone = ZoneInfo(tz)
    first = _utc(datetime.combine(CALENDAR_FIRST, datetime.min.time(), tzinfo=zone))
    last = _utc(datetime.combine(CALENDAR_LAST + timedelta(days=1), datetime.min.time(), tzinfo=zone))
    midnights: dict[date, list[tuple[datetime, int]]] = {}
    day = CALENDAR_FIRST - timedelta(days=1)
    while day <= CALENDAR_LAST + timedelta(days=1):
        m = _utc(datetime.combine(day, datetime.min.time(), tzinfo=zone))
        midnights.setdefault(m.date(), []).append((m, day.toordinal()))
        day += timedelta(days=1)
    rows = []
    current = CALENDAR_FIRST.toordinal() - 1       # local day at 00:00 UTC of the first UTC date
    d = first.date()
    while d <= last.date():
        splits = sorted(midnights.get(d, []))
        utc_midnight = datetime.combine(d, datetime.min.time())
        head = [s for s in splits if s[0] <= utc_midnight]
        if head:                                    # a local midnight exactly at 00:00 UTC
            current = head[-1][1]
        inner = [s for s in splits if s[0] > utc_midnight]
        if len(inner) > 2:
            raise ValueError(f"tz {tz}: {d} holds {len(inner)} local midnights")
        row = {"tz": tz, "utc_date": d, "day0": current, "split1": None, "day1": None, "split2": None,
               "day2": None}
        for i, (at, num) in enumerate(inner, start=1):
            row[f"split{i}"], row[f"day{i}"] = at, num
            current = num
        rows.append(row)
        d += timedelta(days=1)
    return tuple(rows)


def day_number(day: date) -> int:
    """The local day number of build_spells.sql (``date.toordinal()``)."""
    return day.toordinal()


def covers(day_from: date, day_to: date, window_days: int) -> bool:
    """Whether the state can answer [day_from, day_to] (else the reference SQL is used)."""
    return (CALENDAR_FIRST + timedelta(days=window_days) <= day_from
            and day_to + timedelta(days=1) <= CALENDAR_LAST)


def _current(conn: Connection, key: str, mark: str, need_from: int | None = None) -> StateBuild | None:
    """The build of ``key`` under ``mark`` (spells: covering activity from day number ``need_from``)."""
    b = metric_state_builds.c
    row = conn.execute(select(b.build_id, b.row_count, b.seconds, b.covers_from).where(
        (b.state_key == key) & (b.version == STATE_VERSION) & (b.data_mark == mark))).first()
    if row is None or (need_from is not None and (row.covers_from is None or row.covers_from > need_from)):
        return None
    return StateBuild(key, row.build_id, row.row_count, row.seconds, False)


def build_ids(conn: Connection, tz: str, window_days: int) -> tuple[str | None, str | None]:
    """The build ids of the state a snapshot reads (readers compare them before and after reading)."""
    b = metric_state_builds.c
    found = dict(conn.execute(select(b.state_key, b.build_id).where(
        b.state_key.in_([CUSTOMERS_KEY, spells_key(tz, window_days)]))).all())
    return found.get(CUSTOMERS_KEY), found.get(spells_key(tz, window_days))


class _Retry(Exception):
    """The per-customer state changed under a spells build: ensure both again."""


def _build_customers(conn: Connection, mark: str, tz: str, window_days: int, covers_from: int | None) -> int:
    conn.execute(delete(metric_customer_state))
    conn.execute(delete(metric_offindex_rows))
    rows = conn.execute(sql("metrics/state/build_customers")).rowcount
    conn.execute(sql("metrics/state/build_offindex"))
    return rows


def _build_spells(conn: Connection, mark: str, tz: str, window_days: int, covers_from: int | None) -> int:
    # the spells read metric_offindex_rows: it must be the one of this data mark
    if _current(conn, CUSTOMERS_KEY, mark) is None:
        raise _Retry()
    cal = calendar_rows(tz)
    have = conn.execute(select(func.count()).select_from(metric_day_calendar)
                        .where(metric_day_calendar.c.tz == tz)).scalar()
    if have != len(cal):        # first use of this timezone (or a changed calendar span)
        conn.execute(delete(metric_day_calendar).where(metric_day_calendar.c.tz == tz))
        conn.execute(insert(metric_day_calendar), list(cal))
    s = metric_active_spells.c
    conn.execute(delete(metric_active_spells).where((s.tz == tz) & (s.window_days == window_days)))
    since_at = _utc(datetime.combine(date.fromordinal(covers_from), datetime.min.time(), tzinfo=ZoneInfo(tz)))
    return conn.execute(sql("metrics/state/build_spells"),
                        {"tz": tz, "window_days": window_days, "since_at": since_at}).rowcount


def _ensure(engine: Engine, key: str, builder, tz: str, window_days: int, rebuild: bool,
            need_from: int | None = None) -> StateBuild:
    with engine.connect() as conn:
        mark = data_mark(conn)
        found = None if rebuild else _current(conn, key, mark, need_from)
    if found is not None:
        return found
    # SQLite: a concurrent builder holds the write lock longer than busy_timeout on a big shop; wait
    # for it (then reuse its build) instead of failing the task
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            return _build(engine, key, builder, tz, window_days, rebuild, need_from, mark)
        except OperationalError as exc:
            if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            with engine.connect() as conn:
                found = None if rebuild else _current(conn, key, mark, need_from)
            if found is not None:
                return found
            time.sleep(1.0)


def _build(engine: Engine, key: str, builder, tz: str, window_days: int, rebuild: bool, need_from: int | None,
           mark: str) -> StateBuild:
    b = metric_state_builds.c
    start = time.monotonic()
    build_id = uuid.uuid4().hex
    try:
        with engine.begin() as conn:
            covers_from = None
            if need_from is not None:
                # never narrow what an earlier build covered (two sales sharing the warehouse)
                before = conn.execute(select(b.covers_from).where(b.state_key == key)).scalar()
                covers_from = min(need_from, before) if before is not None else need_from
            # a write first: on SQLite it takes the write lock, so a concurrent builder waits here
            stale = b.state_key == key
            if not rebuild:
                outdated = (b.version != STATE_VERSION) | (b.data_mark != mark)
                if need_from is not None:
                    outdated = outdated | b.covers_from.is_(None) | (b.covers_from > need_from)
                stale = stale & outdated
            conn.execute(delete(metric_state_builds).where(stale))
            found = _current(conn, key, mark, need_from)
            if found is not None:                      # built by another task while we waited
                return found
            # PostgreSQL: a concurrent builder blocks on this key until we commit, then fails on it
            conn.execute(insert(metric_state_builds).values(
                state_key=key, version=STATE_VERSION, data_mark=mark, build_id=build_id, row_count=0, seconds=0.0,
                covers_from=covers_from))
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL jit = off")
                # per-customer aggregates of orders/events fit in memory instead of spilling
                conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
            rows = builder(conn, mark, tz, window_days, covers_from)
            seconds = time.monotonic() - start
            conn.execute(metric_state_builds.update().where(b.state_key == key).values(
                row_count=rows, seconds=seconds))
    except IntegrityError:
        with engine.connect() as conn:
            found = _current(conn, key, mark, need_from)
        if found is None:
            raise
        return found
    log.info("metric state %s: %d rows in %.2f s (data mark %s)", key, rows, seconds, mark)
    if engine.dialect.name == "postgresql":
        # fresh statistics so the day queries get good plans on the new rows
        with engine.begin() as conn:
            for table in (("metric_customer_state", "metric_offindex_rows") if key == CUSTOMERS_KEY
                          else ("metric_active_spells",)):
                conn.exec_driver_sql(f"ANALYZE {table}")
    return StateBuild(key, build_id, rows, seconds, True)


def ensure_state(engine: Engine, tz: str, window_days: int, *, since_day: date, rebuild: bool = False) -> State:
    """The current state for (tz, window_days), answering every day from ``since_day`` on.

    Reuses current builds or builds them (one transaction each). ``since_day`` is the earliest
    range start the caller reads (the snapshot passes the earlier of its first day and the sale's
    reference day, so a sale's days share one build whatever order they run in).
    """
    need_from = day_number(since_day) - window_days
    for _ in range(3):
        cust = _ensure(engine, CUSTOMERS_KEY, _build_customers, tz, window_days, rebuild)
        try:
            spells = _ensure(engine, spells_key(tz, window_days), _build_spells, tz, window_days, rebuild, need_from)
        except _Retry:
            rebuild = False
            continue
        return State(cust, spells, (cust, spells))
    raise RuntimeError("metric state: the per-customer state kept changing while the spells were built")


def drop_state(engine: Engine) -> None:
    """Delete every metric state row and build (housekeeping; the next snapshot rebuilds)."""
    with engine.begin() as conn:
        for table in (metric_state_builds, metric_customer_state, metric_offindex_rows, metric_active_spells,
                      metric_day_calendar):
            conn.execute(delete(table))
