"""Small helpers shared by the gates."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from dacu.paths import REPO_ROOT


def day_bounds_utc(day: date, tz) -> tuple[datetime, datetime]:
    """[00:00, next 00:00) of a sale-local day, as naive UTC."""
    start = datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC).replace(tzinfo=None)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC).replace(tzinfo=None)
    return start, end


def parse_db_time(value: Any) -> datetime | None:
    """A DateTime read through text() SQL: SQLite may return a string."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def fmt_days(days: list[date], limit: int = 12) -> str:
    """Days as compact ranges: 2026-03-01..03, 2026-03-07 (+N more)."""
    ranges: list[tuple[date, date]] = []
    for d in sorted(days):
        if ranges and (d - ranges[-1][1]).days == 1:
            ranges[-1] = (ranges[-1][0], d)
        else:
            ranges.append((d, d))
    parts = [a.isoformat() if a == b else f"{a.isoformat()}..{b.isoformat()}" for a, b in ranges]
    more = len(parts) - limit
    return ", ".join(parts[:limit]) + (f" (+{more} more)" if more > 0 else "")


def crowd_strategies(playbook: Any) -> list[Any]:
    return [s for s in playbook.strategies if s.crowd is not None]


def resolve_file(name: str) -> Path:
    """A file named in the playbook: absolute, or relative to the repository root."""
    path = Path(name)
    return path if path.is_absolute() else REPO_ROOT / path


def local(moment: datetime, tz) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")
