"""Parsers of single CSV cells: text, integers, money, sale-local times, booleans, contacts.

Each parser takes the stripped cell text (never empty: blanks are handled by the
caller) and returns the warehouse value or raises ``BadValue`` with a reason code.
Details never echo a mobile number or an email in clear (dacu.pii masks them).
"""
from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dacu.ingest.errors import BadValue
from dacu.pii import mask_email, mask_mobile

CENT = Decimal("0.01")
MONEY_LIMIT = Decimal("10000000000")          # Numeric(12, 2): below 10^10 yuan
DEFAULT_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
# Outside this window a time is a broken export (epoch zero, year 9999), not history.
EARLIEST = datetime(2000, 1, 1)
LATEST = datetime(2100, 1, 1)

_TRUE = frozenset({"1", "true", "t", "yes", "y", "是"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "否"})
_MOBILE = re.compile(r"1[3-9]\d{9}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CLIP = 40


def _clip(raw: str) -> str:
    return raw if len(raw) <= _CLIP else raw[:_CLIP] + "…"


def get_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}") from None


def parse_text(raw: str, column: str, max_len: int | None) -> str:
    if max_len is not None and len(raw) > max_len:
        raise BadValue("too_long", f"{column} is {len(raw)} characters, at most {max_len} allowed", column)
    return raw


def parse_int(raw: str, column: str, min_value: int | None = None, max_value: int | None = None) -> int:
    try:
        value = int(raw)
    except ValueError:
        # Spreadsheets write integers as "3.0"; accept only when integral.
        try:
            dec = Decimal(raw)
        except InvalidOperation:
            raise BadValue("bad_number", f"{column} {_clip(raw)!r} is not an integer", column) from None
        if not dec.is_finite() or dec != dec.to_integral_value():
            raise BadValue("bad_number", f"{column} {_clip(raw)!r} is not an integer", column) from None
        value = int(dec)
    if min_value is not None and value < min_value:
        raise BadValue("bad_number", f"{column} {value} is below {min_value}", column)
    if max_value is not None and value > max_value:
        raise BadValue("bad_number", f"{column} {value} is above {max_value}", column)
    return value


def parse_money(raw: str, column: str) -> Decimal:
    text = raw.replace(",", "").lstrip("¥￥").strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BadValue("bad_number", f"{column} {_clip(raw)!r} is not an amount", column) from None
    if not value.is_finite():
        raise BadValue("bad_number", f"{column} {_clip(raw)!r} is not an amount", column)
    if value < 0:
        raise BadValue("negative_amount", f"{column} {_clip(raw)} is negative", column)
    if value != value.quantize(CENT):
        raise BadValue("bad_number", f"{column} {_clip(raw)} has more than 2 decimals", column)
    if value >= MONEY_LIMIT:
        raise BadValue("bad_number", f"{column} {_clip(raw)} is too large", column)
    return value.quantize(CENT)


def parse_bool(raw: str, column: str) -> bool:
    low = raw.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise BadValue("bad_bool", f"{column} {_clip(raw)!r} is not 0/1/true/false/是/否", column)


def parse_mobile(raw: str, column: str) -> str:
    digits = raw.replace(" ", "").replace("-", "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if not _MOBILE.fullmatch(digits):
        raise BadValue("bad_mobile", f"{column} {mask_mobile(raw)!r} is not an 11-digit mainland mobile", column)
    return digits


def parse_email(raw: str, column: str, max_len: int | None) -> str:
    if not _EMAIL.fullmatch(raw) or (max_len is not None and len(raw) > max_len):
        raise BadValue("bad_email", f"{column} {mask_email(raw)!r} is not an email address", column)
    return raw


class LocalTimeParser:
    """Sale-local wall-clock text -> naive UTC ``datetime``."""

    def __init__(self, zone: ZoneInfo, formats: tuple[str, ...] = DEFAULT_TIME_FORMATS) -> None:
        self.zone = zone
        self.formats = tuple(formats)

    def _local(self, raw: str) -> datetime | None:
        for fmt in self.formats:
            if fmt == "%Y-%m-%d %H:%M:%S":
                # Fast path for the common shape (fromisoformat is C; strptime is slow).
                if len(raw) == 19 and raw[4] == "-" and raw[7] == "-" and raw[10] == " " and raw[13] == ":":
                    try:
                        return datetime.fromisoformat(raw)
                    except ValueError:
                        continue
                continue
            try:
                return datetime.strptime(raw, fmt)
            except ValueError:
                continue
        return None

    def __call__(self, raw: str, column: str) -> datetime:
        local = self._local(raw)
        if local is None:
            raise BadValue("bad_date", f"{column} {_clip(raw)!r} is not a time like {self.formats[0]}", column)
        if not EARLIEST <= local < LATEST:
            raise BadValue("bad_date", f"{column} {_clip(raw)!r} is outside 2000–2099", column)
        return local - self.zone.utcoffset(local)
