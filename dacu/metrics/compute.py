"""Compute the war-room snapshot (seed 000 §四) and the warm-up view (seed 002) from the warehouse.

Every figure comes from ``include/sql/metrics/*.sql``; this module turns
sale-local days into naive-UTC bounds, runs the SQL with bind parameters and
derives the rates. Amounts are floats rounded to 2 decimals (yuan); a rate or
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


def compute_snapshot(engine: Engine, *, sale_id: str, reference_day: date, tz: str, day_from: date,
                     day_to: date, active_rv_days: int = 90, run_key: str) -> pd.DataFrame:
    """One row per crowd (whole_store, new, old, members, fans) for the sale-local days [day_from, day_to].

    Columns: sale_id, day_from, day_to, crowd, every metric of
    ``definitions.SNAPSHOT_METRICS`` in order, then reference_day, active_rv_days, run_key.
    """
    _check_days(day_from, day_to)
    if not isinstance(active_rv_days, int) or active_rv_days < 1:
        raise MetricInputError(f"active_rv_days: expected a positive integer, got {active_rv_days!r}")
    zone = _zone(tz)
    start_at, end_at = range_bounds(day_from, day_to, tz)
    ref_at = local_midnight_utc(reference_day, zone)
    rv_from = local_midnight_utc(day_from - timedelta(days=active_rv_days), zone)
    act_from = local_midnight_utc(day_to + timedelta(days=1 - active_rv_days), zone)

    with engine.connect() as conn:
        funnel = {r["crowd"]: r for r in _run(conn, "metrics/crowd_funnel",
                                              start_at=start_at, end_at=end_at, ref_at=ref_at)}
        store = _run(conn, "metrics/store_rv", start_at=start_at, end_at=end_at,
                     rv_from=rv_from, act_from=act_from)[0]
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
                   day_to: date, run_key: str) -> pd.DataFrame:
    """Seed 002's warm-up view: one row per (sale-local day, crowd in new/old) of [day_from, day_to]."""
    _check_days(day_from, day_to)
    zone = _zone(tz)
    ref_at = local_midnight_utc(reference_day, zone)
    rows = []
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
    df = pd.DataFrame(rows, columns=WARMUP_KEY_COLUMNS + warmup_metric_names() + ["run_key"])
    for name in warmup_metric_names():
        df[name] = df[name].astype("int64")
    return df
