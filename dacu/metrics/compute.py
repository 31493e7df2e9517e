"""Compute the war-room snapshot (seed 000 §四) and the warm-up view (seed 002) from the warehouse.

Every figure comes from ``include/sql/metrics/*.sql``; this module turns
sale-local days into naive-UTC bounds, runs the SQL with bind parameters and
derives the rates. Two paths give the same figures: ``state`` (default) reads the
range's own rows plus the incremental per-customer state of ``dacu.metrics.state``
(``day/*.sql``); ``reference`` runs the from-scratch definitions over all history
(``crowd_funnel.sql``, ``store_rv.sql``, ``warmup_day.sql``), kept as the spec
the state path is tested against. Amounts are floats rounded to 2 decimals (yuan); a rate or
value whose denominator is 0 is NaN (NULL once published), never 0 or an error.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from sqlalchemy import Date, DateTime, String, bindparam
from sqlalchemy.engine import Connection, Engine

from dacu.metrics.definitions import (
    BY_NAME, CROWDS, PEER_SOURCES, SNAPSHOT_METRICS, WARMUP_CROWDS, metric_names, warmup_metric_names,
)
from dacu.warehouse.sqlfiles import sql

NAN = float("nan")
KEY_COLUMNS = ["sale_id", "day_from", "day_to", "crowd"]
SETTING_COLUMNS = ["reference_day", "active_rv_days", "run_key"]
WARMUP_KEY_COLUMNS = ["sale_id", "metric_day", "crowd"]

# Counts and amounts of crowd_funnel.sql / store_rv.sql (the rest is derived here).
_FUNNEL_COUNTS = ["crowd_size", "visitors", "cart_buyers", "deposit_buyers", "balance_buyers",
                  "deposit_balance_buyers", "cart_paid_buyers", "paying_buyers"]
_FUNNEL_AMOUNTS = ["presale_paid_amount", "cart_paid_amount", "paid_amount"]
_STORE_COUNTS = ["rv_start", "active_rv_start", "active_rv_buyers", "store_buyers", "store_visitors",
                 "active_members", "active_member_buyers", "active_fans_excl_members",
                 "active_fan_buyers_excl_members"]
_STORE_AMOUNTS = ["active_rv_amount", "store_paid_amount"]


class MetricInputError(ValueError):
    """Bad arguments to a metric computation (names the field)."""


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise MetricInputError(f"tz: {tz!r} is not an IANA timezone name") from None


def local_midnight_utc(day: date, tz: ZoneInfo) -> datetime:
    """00:00 of a sale-local day as a naive UTC datetime (the warehouse's time convention)."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)


def range_bounds(day_from: date, day_to: date, tz: str) -> tuple[datetime, datetime]:
    """UTC [start, end) of the sale-local days day_from..day_to inclusive."""
    zone = _zone(tz)
    return local_midnight_utc(day_from, zone), local_midnight_utc(day_to + timedelta(days=1), zone)


def _check_days(day_from: date, day_to: date) -> None:
    for field, value in (("day_from", day_from), ("day_to", day_to)):
        if not isinstance(value, date) or isinstance(value, datetime):
            raise MetricInputError(f"{field}: expected a date, got {type(value).__name__}")
    if day_to < day_from:
        raise MetricInputError(f"day_to {day_to} is before day_from {day_from}")


def _run(conn: Connection, name: str, **params) -> list[dict]:
    """Run ``include/sql/<name>.sql`` with typed binds (datetimes stay comparable on SQLite)."""
    types = {datetime: DateTime(), date: Date(), str: String()}
    stmt = sql(name).bindparams(*[bindparam(k, type_=types[type(v)]) for k, v in params.items()
                                  if type(v) in types])
    return [dict(r._mapping) for r in conn.execute(stmt, params)]


def _ratio(num: float, den: float, ndigits: int) -> float:
    return round(float(num) / float(den), ndigits) if den else NAN


def _money(value) -> float:
    return round(float(value or 0), 2)


def _reference_rows(conn: Connection, start_at: datetime, end_at: datetime, ref_at: datetime,
                    rv_from: datetime, act_from: datetime) -> tuple[dict, dict]:
    """Funnel rows by crowd and the store row from the reference SQL (reads all history)."""
    funnel = {r["crowd"]: r for r in _run(conn, "metrics/crowd_funnel",
                                          start_at=start_at, end_at=end_at, ref_at=ref_at)}
    store = _run(conn, "metrics/store_rv", start_at=start_at, end_at=end_at, rv_from=rv_from, act_from=act_from)[0]
    return funnel, store


def _day_binds(day_from: date, day_to: date, zone: ZoneInfo, ref_at: datetime, tz: str,
               active_rv_days: int) -> dict:
    from dacu.metrics.state import day_number

    return {"start_at": local_midnight_utc(day_from, zone), "end_at": local_midnight_utc(day_to + timedelta(days=1), zone),
            "ref_at": ref_at, "tz": tz, "window_days": active_rv_days, "start_day": day_number(day_from),
            "end_day": day_number(day_to + timedelta(days=1))}


def _state_rows(engine: Engine, day_from: date, day_to: date, zone: ZoneInfo, ref_at: datetime, tz: str,
                active_rv_days: int, sale_id: str, since_day: date, *,
                store: bool = True) -> tuple[dict, dict | None, list[dict]]:
    """day/crowds.sql (and day/store.sql) over the incremental state, re-read if a rebuild raced us."""
    from dacu.metrics.state import build_ids, ensure_state

    binds = _day_binds(day_from, day_to, zone, ref_at, tz, active_rv_days)
    # the sale's days share one build: cover from the reference day (or an earlier first day)
    since = min(day_from, since_day)
    state = ensure_state(engine, tz, active_rv_days, since_day=since)
    for _ in range(3):
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                # the planner over-estimates the CTE joins and JIT-compiles for seconds (~6 s at 1M)
                conn.exec_driver_sql("SET LOCAL jit = off")
                conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")     # the per-customer fold, in memory
            crowds = _fold_crowds(_run(conn, "metrics/day/crowds", **binds))
            store_row = _run(conn, "metrics/day/store", **binds)[0] if store else None
            peers = (_run(conn, "metrics/peer_day", sale_id=sale_id, metric_day=day_from)
                     if store and day_from == day_to else [])
            seen = build_ids(conn, tz, active_rv_days)
        if seen == state.ids:
            return crowds, store_row, peers
        state = ensure_state(engine, tz, active_rv_days, since_day=since)     # rebuilt while we read: again
    raise RuntimeError(f"metric state for {tz}/{active_rv_days} kept changing while {day_from}..{day_to} was read")


# Which flag rows of day/crowds.sql make up each crowd (a customer counts once per crowd it is in).
_CROWD_FLAGS = {
    "all_active": lambda g: True,
    "whole_store": lambda g: g["known"] == 1,
    "old": lambda g: g["old"] == 1,
    "new": lambda g: g["old"] == 0,
    "members": lambda g: g["member"] == 1,
    "fans": lambda g: g["fan"] == 1,
    "active_rv_start": lambda g: g["rv_start"] == 1,
    "active_members_end": lambda g: g["member_end"] == 1,
    "active_fans_end": lambda g: g["fan_end"] == 1,
}
_FLAG_COLUMNS = ("known", "old", "member", "fan", "rv_start", "member_end", "fan_end")


def _fold_crowds(groups: list[dict]) -> dict[str, dict]:
    """Sum the flag-combination rows of day/crowds.sql into one row per crowd (empty crowds absent)."""
    out: dict[str, dict] = {}
    for g in groups:
        for crowd, holds in _CROWD_FLAGS.items():
            if not holds(g):
                continue
            row = out.setdefault(crowd, {"crowd": crowd})
            for k, v in g.items():
                if k not in _FLAG_COLUMNS:
                    row[k] = row.get(k, 0) + (v or 0)
    return out


def _from_state(crowds: dict, store_row: dict) -> tuple[dict, dict]:
    """Reshape the state queries' rows into the reference's funnel rows and store row."""
    def c(crowd: str, key: str):
        return (crowds.get(crowd) or {}).get(key) or 0

    sizes = {"whole_store": store_row["whole_store_size"], "old": store_row["old_size"],
             "new": c("new", "active_customers"), "members": store_row["members_size"],
             "fans": store_row["fans_size"]}
    funnel = {crowd: {**(crowds.get(crowd) or {}), "crowd_size": sizes[crowd]} for crowd in CROWDS}
    store = {k: store_row[k] for k in ("rv_start", "active_rv_start", "active_members", "active_fans_excl_members")}
    store.update({"active_rv_buyers": c("active_rv_start", "paying_buyers"),
                  "active_rv_amount": c("active_rv_start", "paid_amount"),
                  "store_buyers": c("all_active", "paying_buyers"),
                  "store_visitors": c("all_active", "visitors"),
                  "store_paid_amount": c("all_active", "paid_amount"),
                  "active_member_buyers": c("active_members_end", "paying_buyers"),
                  "active_fan_buyers_excl_members": c("active_fans_end", "paying_buyers")})
    return funnel, store


def _warmup_rows(sale_id: str, day: date, crowds: dict, run_key: str) -> list[dict]:
    """Seed 002's new/old rows of one day from day/crowds.sql (same figures as warmup_day.sql)."""
    source = {"visitors": "visitors", "favourite_customers": "favourite_customers",
              "cart_customers": "cart_buyers", "buyers": "paying_buyers", "coupons_claimed": "coupons_claimed"}
    return [{"sale_id": sale_id, "metric_day": day, "crowd": crowd,
             **{k: int((crowds.get(crowd) or {}).get(source[k]) or 0) for k in warmup_metric_names()},
             "run_key": run_key} for crowd in WARMUP_CROWDS]


def _warmup_frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=WARMUP_KEY_COLUMNS + warmup_metric_names() + ["run_key"])
    for name in warmup_metric_names():
        df[name] = df[name].astype("int64")
    return df


def _use_state(method: str, day_from: date, day_to: date, reference_day: date, active_rv_days: int) -> bool:
    from dacu.metrics.state import covers

    if method not in ("state", "reference"):
        raise MetricInputError(f"method: expected 'state' or 'reference', got {method!r}")
    return method == "state" and covers(min(day_from, reference_day), day_to, active_rv_days)


def compute_snapshot(engine: Engine, *, sale_id: str, reference_day: date, tz: str, day_from: date,
                     day_to: date, active_rv_days: int = 90, run_key: str, method: str = "state",
                     warmup_sink: dict | None = None) -> pd.DataFrame:
    """One row per crowd (whole_store, new, old, members, fans) for the sale-local days [day_from, day_to].

    Columns: sale_id, day_from, day_to, crowd, every metric of
    ``definitions.SNAPSHOT_METRICS`` in order, then reference_day, active_rv_days, run_key.
    ``method``: ``state`` reads the range's rows plus the incremental state (dacu.metrics.state);
    ``reference`` runs the from-scratch SQL (crowd_funnel.sql, store_rv.sql) over all history.
    Both give the same figures. ``warmup_sink``: for a single day on the state path, the day's
    warm-up frame is put there under ``"frame"`` (same query, no second read of the day).
    """
    _check_days(day_from, day_to)
    if not isinstance(active_rv_days, int) or active_rv_days < 1:
        raise MetricInputError(f"active_rv_days: expected a positive integer, got {active_rv_days!r}")
    zone = _zone(tz)
    start_at, end_at = range_bounds(day_from, day_to, tz)
    ref_at = local_midnight_utc(reference_day, zone)
    rv_from = local_midnight_utc(day_from - timedelta(days=active_rv_days), zone)
    act_from = local_midnight_utc(day_to + timedelta(days=1 - active_rv_days), zone)

    if _use_state(method, day_from, day_to, reference_day, active_rv_days):
        crowds, store_row, peers = _state_rows(engine, day_from, day_to, zone, ref_at, tz, active_rv_days, sale_id,
                                               reference_day)
        funnel, store = _from_state(crowds, store_row)
        if warmup_sink is not None and day_from == day_to:
            warmup_sink["frame"] = _warmup_frame(_warmup_rows(sale_id, day_from, crowds, run_key))
    else:
        with engine.connect() as conn:
            funnel, store = _reference_rows(conn, start_at, end_at, ref_at, rv_from, act_from)
            peers = (_run(conn, "metrics/peer_day", sale_id=sale_id, metric_day=day_from)
                     if day_from == day_to else [])

    s = {k: int(store[k] or 0) for k in _STORE_COUNTS}
    s.update({k: _money(store[k]) for k in _STORE_AMOUNTS})
    whole_size = int(funnel.get("whole_store", {}).get("crowd_size") or 0)
    s["active_rv_value"] = _ratio(s["active_rv_amount"], s["active_rv_start"], 2)
    s["non_rv_value"] = _ratio(s["store_paid_amount"] - s["active_rv_amount"],
                               whole_size - s["active_rv_start"], 2)
    peer = {(p["crowd"], p["metric"]): float(p["value"]) for p in peers}

    rows = []
    for crowd in CROWDS:
        f = funnel.get(crowd, {})
        row: dict = {"sale_id": sale_id, "day_from": day_from, "day_to": day_to, "crowd": crowd}
        row.update({k: int(f.get(k) or 0) for k in _FUNNEL_COUNTS})
        row.update({k: _money(f.get(k)) for k in _FUNNEL_AMOUNTS})
        row["store_paid_amount"] = s["store_paid_amount"]
        for m in SNAPSHOT_METRICS:
            if m.kind == "rate":
                row[m.name] = _ratio(row[m.numerator], row[m.denominator], 6)
        row.update(s)
        for column, (metric, store_level) in PEER_SOURCES.items():
            row[column] = peer.get(("whole_store" if store_level else crowd, metric), NAN)
        row.update({"reference_day": reference_day, "active_rv_days": active_rv_days, "run_key": run_key})
        rows.append(row)

    df = pd.DataFrame(rows, columns=KEY_COLUMNS + metric_names() + SETTING_COLUMNS)
    for name in metric_names("count"):
        df[name] = df[name].astype("int64")
    for name in metric_names():
        if BY_NAME[name].kind != "count":
            df[name] = df[name].astype("float64")
    return df


def compute_warmup(engine: Engine, *, sale_id: str, reference_day: date, tz: str, day_from: date,
                   day_to: date, run_key: str, method: str = "state", active_rv_days: int = 90) -> pd.DataFrame:
    """Seed 002's warm-up view: one row per (sale-local day, crowd in new/old) of [day_from, day_to].

    ``method`` as in :func:`compute_snapshot` (``active_rv_days`` only picks the state's spells key).
    """
    _check_days(day_from, day_to)
    zone = _zone(tz)
    ref_at = local_midnight_utc(reference_day, zone)
    rows = []
    if _use_state(method, day_from, day_to, reference_day, active_rv_days):
        day = day_from
        while day <= day_to:
            crowds, _, _ = _state_rows(engine, day, day, zone, ref_at, tz, active_rv_days, sale_id, reference_day,
                                        store=False)
            rows += _warmup_rows(sale_id, day, crowds, run_key)
            day += timedelta(days=1)
        return _warmup_frame(rows)
    with engine.connect() as conn:
        day = day_from
        while day <= day_to:
            start_at, end_at = range_bounds(day, day, tz)
            found = {r["crowd"]: r for r in _run(conn, "metrics/warmup_day",
                                                 start_at=start_at, end_at=end_at, ref_at=ref_at)}
            for crowd in WARMUP_CROWDS:
                r = found.get(crowd, {})
                rows.append({"sale_id": sale_id, "metric_day": day, "crowd": crowd,
                             **{k: int(r.get(k) or 0) for k in warmup_metric_names()},
                             "run_key": run_key})
            day += timedelta(days=1)
    return _warmup_frame(rows)
