"""SQL lives in ``include/sql/`` files with bind parameters; this loads them.

A line ``-- @include <name>[: why]`` stands for the SQL of ``include/sql/<name>.sql`` (its comment
lines dropped, indented like the marker): a block many files share - the gate's feature rows of the
crowd feature files - is written once.
"""
from __future__ import annotations

import re
import textwrap
from functools import lru_cache

from sqlalchemy import TextClause, text

from dacu.paths import SQL_DIR


_INCLUDE = re.compile(r"^(?P<indent>[ \t]*)-- @include (?P<name>[\w/]+)(?::.*)?$", re.MULTILINE)


@lru_cache(maxsize=256)
def sql_text(name: str) -> str:
    """The text of ``include/sql/<name>.sql`` (``name`` may contain a sub-folder), includes expanded."""
    path = (SQL_DIR / f"{name}.sql").resolve()
    if SQL_DIR.resolve() not in path.parents:
        raise ValueError(f"SQL file name {name!r} leaves include/sql/")
    text_ = path.read_text(encoding="utf-8")

    def expand(m: re.Match) -> str:
        if m.group("name") == name:
            raise ValueError(f"{path}: includes itself")
        body = "\n".join(line for line in sql_text(m.group("name")).splitlines() if not line.lstrip().startswith("--"))
        return textwrap.indent(textwrap.dedent(body), m.group("indent"))

    return _INCLUDE.sub(expand, text_)


def sql(name: str) -> TextClause:
    return text(sql_text(name))
