"""Small conversions shared by the war-room readers (rows from text() SQL on SQLite and PostgreSQL)."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, DateTime, String, bindparam
from sqlalchemy.sql.elements import TextClause

from dacu.warehouse.sqlfiles import sql

_BIND_TYPES = {"sale_id": String(), "day_from": Date(), "day_to": Date(), "at": DateTime()}


def query(name: str) -> TextClause:
    """``include/sql/<name>.sql`` with typed binds, so dates and moments compare alike on both databases."""
    stmt = sql(name)
    binds = [bindparam(k, type_=t) for k, t in _BIND_TYPES.items() if f":{k}" in stmt.text]
    return stmt.bindparams(*binds) if binds else stmt


def as_day(value: Any) -> date | None:
    if value is None or isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])


def as_moment(value: Any) -> datetime | None:
    """A stored naive-UTC moment as an aware UTC datetime."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def utc_naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def plain(value: Any) -> Any:
    """JSON-friendly: Decimal -> float, NaN -> None, dates -> ISO."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def json_obj(text: Any) -> Any:
    if text is None or isinstance(text, (dict, list)):
        return text
    return json.loads(text)
