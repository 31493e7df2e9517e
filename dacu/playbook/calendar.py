"""Calendar logic: when each strategy is due, and the gates of a phase.

A *moment* is an aware, sale-local datetime at which a strategy is due. A
phase's *gates* are the times of day at which any of its strategies is due;
the phase's DAG runs once a day and waits for each gate in turn.

Form 3 (event-driven reminders) is due once per sale-local day of its window:
at the window's start on the first day and at 00:00 on later days; the task
then works through that day's slice of the window (``window_slice``).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:  # pragma: no cover
    from dacu.playbook.model import Strategy, When


def day_range(first: date, last: date) -> list[date]:
    """Every day from ``first`` to ``last`` inclusive (empty if last < first)."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=tz)


def window_slice(start: datetime, end: datetime, day: date) -> tuple[datetime, datetime] | None:
    """The part of [start, end] that lies on the sale-local ``day``, as [lo, hi); None if empty."""
    tz = start.tzinfo
    lo = max(start, day_start(day, tz))
    hi = min(end, day_start(day + timedelta(days=1), tz))
    if lo >= hi:
        return None
    return lo, hi


def when_moments(when: When, tz: ZoneInfo) -> list[datetime]:
    """The moments of a ``when`` block (see the module docstring for form 3)."""
    form = when.form
    if form == 1:
        return sorted(when.at or [])
    if not isinstance(when.from_, date) or not isinstance(when.to, date):
        return []   # an incomplete block: rules.py reports it; nothing is due
    if form == 2:
        if isinstance(when.from_, datetime) or isinstance(when.to, datetime):
            return []
        return [datetime.combine(d, when.time, tzinfo=tz) for d in day_range(when.from_, when.to)]
    if not isinstance(when.from_, datetime) or not isinstance(when.to, datetime):
        return []
    moments = []
    for d in day_range(when.from_.date(), when.to.date()):
        piece = window_slice(when.from_, when.to, d)
        if piece is not None:
            moments.append(piece[0])
    return moments


def gate_times(strategies: Iterable[Strategy]) -> list[time]:
    """Sorted union of the time of day of every moment of these strategies."""
    return sorted({m.timetz().replace(tzinfo=None) for s in strategies for m in s.moments()})


def due(strategies: Iterable[Strategy], day: date) -> dict[time, list[str]]:
    """Gate time → ids of the strategies due that day at that time (file order); only gates with work."""
    by_gate: dict[time, list[str]] = {}
    for s in strategies:
        for m in s.moments_on(day):
            ids = by_gate.setdefault(m.time(), [])
            if s.id not in ids:
                ids.append(s.id)
    return dict(sorted(by_gate.items()))
