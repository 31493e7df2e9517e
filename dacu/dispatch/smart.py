"""Smart send time (seed 001): each customer's most active hour, as hour buckets of one send day.

A strategy with ``when.smart: true`` (form 2: a daily ``time``) sends each
customer in the sale-local hour they visited the shop most in the last
``days`` days before the gate moment, kept inside the day's allowed window:
from the strategy's ``time`` up to the start of the channels' quiet hours
(marketing), e.g. 10:00–19:59 with SMS quiet hours 20:00–08:00. A best hour
outside the window moves to the nearest hour inside it; a customer without
visits goes in the first hour (the strategy's ``time``).

Buckets depend only on the gate moment (the segment run's ``as_of``) and the
events before it, never on the send time, so every call of one occasion (the
operator wakes once per bucket) sees the same buckets and the same keys.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from dacu.dispatch import ledger, rules

DEFAULT_DAYS = 30


def allowed_hours(start: time, quiets: Sequence[tuple[time, time] | None]) -> list[int]:
    """Hours of the day from ``start`` on whose whole hour lies outside every quiet window."""
    out = []
    for h in range(start.hour, 24):
        first = time(h, start.minute if h == start.hour else 0)
        last = time(h, 59)
        if any(q is not None and (rules.in_quiet_hours(first, q) or rules.in_quiet_hours(last, q)) for q in quiets):
            if out:
                break                      # the window ends where quiet hours begin
            continue
        out.append(h)
    return out or [start.hour]             # all quiet: the strategy's time (the rules hold it)


def best_hours(engine: Engine, customer_ids: Sequence[str], as_of_utc: datetime, tz: ZoneInfo,
               days: int = DEFAULT_DAYS) -> dict[str, int]:
    """Each customer's sale-local hour with the most visits in ``[as_of - days, as_of)``
    (ties: the earlier hour). Customers without visits are absent."""
    since = as_of_utc - timedelta(days=days)
    counts: dict[str, Counter] = defaultdict(Counter)
    with engine.connect() as conn:
        for r in ledger.select_in(conn, "visit_times", "ids", list(customer_ids),
                                  {"since": since, "as_of": as_of_utc}, dt_cols=("occurred_at",)):
            # the hour in the sale's zone is computed here: the SQL has no portable time-zone arithmetic
            hour = r.occurred_at.replace(tzinfo=timezone.utc).astimezone(tz).hour
            counts[r.customer_id][hour] += 1
    return {cid: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for cid, c in counts.items()}


def assign(customer_ids: Sequence[str], best: dict[str, int], hours: list[int]) -> dict[str, int]:
    """customer -> bucket hour: the best hour, else the nearest allowed one, else the first."""
    allowed = set(hours)
    out = {}
    for cid in customer_ids:
        h = best.get(cid)
        if h is None:
            out[cid] = hours[0]
        elif h in allowed:
            out[cid] = h
        else:
            out[cid] = min(hours, key=lambda a: (abs(a - h), a))
    return out


def bucket_moment(day: date, hour: int, start: time, tz: ZoneInfo) -> datetime:
    """When bucket ``hour`` opens on ``day`` (the first bucket opens at the strategy's time)."""
    minute = start.minute if hour == start.hour else 0
    return datetime.combine(day, time(hour, minute), tzinfo=tz)
