"""SQL lives in ``include/sql/`` files with bind parameters; this loads them."""
from __future__ import annotations

from functools import lru_cache

from sqlalchemy import TextClause, text

from dacu.paths import SQL_DIR


@lru_cache(maxsize=256)
def sql_text(name: str) -> str:
    """The text of ``include/sql/<name>.sql`` (``name`` may contain a sub-folder)."""
    path = (SQL_DIR / f"{name}.sql").resolve()
    if SQL_DIR.resolve() not in path.parents:
        raise ValueError(f"SQL file name {name!r} leaves include/sql/")
    return path.read_text(encoding="utf-8")


def sql(name: str) -> TextClause:
    return text(sql_text(name))
