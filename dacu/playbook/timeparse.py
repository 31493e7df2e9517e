"""Parsing the playbook's time values.

The file speaks one timezone (the sale's): datetimes are written
``"YYYY-MM-DD HH:MM"`` and become aware datetimes in that zone; an explicit
offset is refused so that nobody mixes zones by accident. YAML reads bare
dates (``2027-05-24``) as ``datetime.date`` and unquoted ``10:00`` as the
base-60 integer 600, so both cases are handled here with a clear message.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Shanghai"   # used only when a model is built without a sale context

_DATETIME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$")
_OFFSET_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$")
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")

DATETIME_FORMAT = '"YYYY-MM-DD HH:MM"'


def context_tz(context: dict | None) -> ZoneInfo:
    tz = (context or {}).get("tz")
    return tz if tz is not None else ZoneInfo(DEFAULT_TIMEZONE)


def parse_local_datetime(value: object, tz: ZoneInfo) -> datetime:
    """A sale-local datetime: ``"YYYY-MM-DD HH:MM"`` (seconds optional) or a naive YAML timestamp."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise ValueError(f"has an explicit offset; write {DATETIME_FORMAT} in the sale timezone")
        return value.replace(tzinfo=tz)
    if isinstance(value, date):
        raise ValueError(f"is a date but a time is needed: write {DATETIME_FORMAT}")
    if not isinstance(value, str):
        raise ValueError(f"must be a {DATETIME_FORMAT} string")
    text = value.strip()
    m = _DATETIME_RE.match(text)
    if m is None:
        if _OFFSET_RE.match(text):
            raise ValueError(f"'{text}' has an explicit offset; write {DATETIME_FORMAT} in the sale timezone")
        raise ValueError(f"'{text}' is not a {DATETIME_FORMAT} time")
    y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    try:
        return datetime(y, mo, d, h, mi, s, tzinfo=tz)
    except ValueError as exc:
        raise ValueError(f"'{text}' is not a valid time ({exc})") from None


def parse_date(value: object) -> date:
    """A calendar day: ``YYYY-MM-DD`` (YAML already turns a bare one into a date)."""
    if isinstance(value, datetime):
        raise ValueError("must be a date YYYY-MM-DD, not a time")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        m = _DATE_RE.match(value.strip())
        if m:
            try:
                return date(*(int(g) for g in m.groups()))
            except ValueError as exc:
                raise ValueError(f"'{value}' is not a valid date ({exc})") from None
    raise ValueError(f"{value!r} is not a date YYYY-MM-DD")


def parse_date_or_datetime(value: object, tz: ZoneInfo) -> date | datetime:
    """``YYYY-MM-DD`` → date; ``"YYYY-MM-DD HH:MM"`` → aware datetime (``when.from``/``when.to``)."""
    if isinstance(value, datetime) or (isinstance(value, str) and not _DATE_RE.match(value.strip())):
        return parse_local_datetime(value, tz)
    return parse_date(value)


def parse_time_of_day(value: object) -> time:
    """A time of day ``"HH:MM"`` (must be quoted: YAML reads unquoted 10:00 as the number 600)."""
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError('must be a quoted "HH:MM" string (YAML reads unquoted HH:MM as a number)')
    if isinstance(value, str):
        m = _TIME_RE.match(value.strip())
        if m:
            h, mi = int(m.group(1)), int(m.group(2))
            if h < 24 and mi < 60:
                return time(h, mi)
    raise ValueError(f'{value!r} is not a time of day "HH:MM"')


def fmt_dt(value: datetime) -> str:
    """A sale-local datetime as the file writes it."""
    return value.strftime("%Y-%m-%d %H:%M") + (f":{value.second:02d}" if value.second else "")
