"""Gate 1: the order history is complete enough for the sale's crowds (seed 004 历史订单导入补全).

- coverage: orders reach back ``readiness.history_days`` before ``sale.reference_day``
  ("old customer" and 365-day crowds read that far);
- gap days: every sale-local day from there to the day before the check is counted;
  a day with no order where the trailing median is >= MIN_MEDIAN is a gap (fail), a
  day below ``gap_ratio`` x the trailing median is suspect (warn);
- freshness: the newest order before the check is at most ``freshness_hours`` old;
- import batches with unresolved rejects: above ``max_unresolved_rejects_pct`` of the
  rows read fails, any below it warns.
Every strategy with a crowd depends on this gate.
"""
from __future__ import annotations

import statistics
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from dacu.readiness.result import HISTORY, GateResult, to_utc_naive
from dacu.readiness.util import crowd_strategies, day_bounds_utc, fmt_days, parse_db_time
from dacu.warehouse.sqlfiles import sql

MIN_MEDIAN = 3          # below this many orders a day, an empty day is normal for the shop
MIN_TRAILING_DAYS = 7   # a median needs this many earlier days


def daily_order_counts(engine: Engine, days: list[date], tz) -> dict[date, int]:
    """Orders created per sale-local day (one indexed range count per day: portable SQL)."""
    stmt = sql("readiness/orders_in_range")
    out: dict[date, int] = {}
    with engine.connect() as conn:
        for d in days:
            start, end = day_bounds_utc(d, tz)
            out[d] = int(conn.execute(stmt, {"start": start, "end": end}).scalar_one())
    return out


def find_gaps(counts: dict[date, int], ratio: float, median_days: int) -> tuple[list[date], list[date]]:
    """(gap days, suspect days) by the trailing median of the ``median_days`` days before each day."""
    days = sorted(counts)
    gaps, suspect = [], []
    for i, d in enumerate(days):
        trailing = [counts[x] for x in days[max(0, i - median_days):i]]
        if len(trailing) < MIN_TRAILING_DAYS:
            continue
        med = statistics.median(trailing)
        if med < MIN_MEDIAN:
            continue
        if counts[d] == 0:
            gaps.append(d)
        elif counts[d] < ratio * med:
            suspect.append(d)
    return gaps, suspect


def check_history(engine: Engine, playbook: Any, at: datetime) -> GateResult:
    cfg = playbook.readiness
    tz = playbook.tz
    res = GateResult(HISTORY)
    need_from = playbook.sale.reference_day - timedelta(days=cfg.history_days)
    check_day = at.astimezone(tz).date()
    with engine.connect() as conn:
        first, newest = conn.execute(sql("readiness/orders_bounds"), {"at": to_utc_naive(at)}).one()
    first, newest = parse_db_time(first), parse_db_time(newest)
    res.details.update(need_from=need_from.isoformat(), check_day=check_day.isoformat())
    if first is None:
        res.fail(f"no order before the check moment: import the order history from {need_from} "
                 f"(readiness.history_days={cfg.history_days} before reference_day {playbook.sale.reference_day})")
        _block_crowds(res, playbook, "order history is empty")
        return res

    first_day = day_of(first, tz)
    res.details.update(first_order_day=first_day.isoformat(), newest_order=newest.isoformat() + "Z")
    if first_day > need_from:
        res.fail(f"history starts on {first_day}, needs {need_from} (readiness.history_days={cfg.history_days} "
                 f"before reference_day {playbook.sale.reference_day}): import {need_from}..{first_day - timedelta(days=1)}")

    # gap days between the required start (or the first order) and yesterday
    # start earlier so the first required days have a trailing median (never before the first order)
    scan_from = max(need_from - timedelta(days=cfg.gap_median_days), first_day)
    days = [scan_from + timedelta(days=i) for i in range((check_day - scan_from).days)]
    counts = daily_order_counts(engine, days, tz)
    gaps, suspect = find_gaps(counts, cfg.gap_ratio, cfg.gap_median_days)
    gaps = [d for d in gaps if d >= need_from]
    suspect = [d for d in suspect if d >= need_from]
    res.details.update(days_checked=len([d for d in days if d >= need_from]), gap_days=[d.isoformat() for d in gaps],
                       suspect_days=[d.isoformat() for d in suspect])
    if gaps:
        res.fail(f"{len(gaps)} day(s) without any order (gap in the import): {fmt_days(gaps)}")
    if suspect:
        res.warn(f"{len(suspect)} day(s) far below the trailing {cfg.gap_median_days}-day median "
                 f"(< {cfg.gap_ratio:.0%}): {fmt_days(suspect)}")

    # freshness of the sync
    age_h = (to_utc_naive(at) - newest).total_seconds() / 3600
    res.details["newest_order_age_hours"] = round(age_h, 1)
    if age_h > cfg.freshness_hours:
        res.fail(f"newest order is {age_h:.0f} h old (readiness.freshness_hours={cfg.freshness_hours}): "
                 "the order sync has stopped")

    # import batches with unresolved rejects
    with engine.connect() as conn:
        rejects = conn.execute(sql("readiness/unresolved_rejects"), {"resolved": False}).all()
    bad = []
    for batch_id, kind, rows_read, unresolved in rejects:
        pct = 100.0 * unresolved / max(int(rows_read or 0), 1)
        bad.append({"batch_id": batch_id, "kind": kind, "unresolved": int(unresolved), "pct": round(pct, 2)})
        text = f"import batch {batch_id} ({kind}) has {unresolved} unresolved rejected row(s) ({pct:.2f}% of rows read)"
        if pct > cfg.max_unresolved_rejects_pct:
            res.fail(text + f" > readiness.max_unresolved_rejects_pct={cfg.max_unresolved_rejects_pct}")
        else:
            res.warn(text)
    res.details["reject_batches"] = bad

    if res.status == "fail":
        _block_crowds(res, playbook, "order history incomplete: crowds would be wrong")
    if not res.reasons:
        res.reasons.append(f"orders from {first_day} (needs {need_from}), no gap day, newest {age_h:.1f} h old")
    return res


def day_of(utc_naive: datetime, tz) -> date:
    from datetime import UTC

    return utc_naive.replace(tzinfo=UTC).astimezone(tz).date()


def _block_crowds(res: GateResult, playbook: Any, reason: str) -> None:
    for s in crowd_strategies(playbook):
        res.block(s.id, reason)
