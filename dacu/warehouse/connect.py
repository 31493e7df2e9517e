"""Reaching the warehouse: an Airflow connection id, the same for tasks and the CLI.

Resolution order for connection id ``dacu_warehouse`` (``DACU_WAREHOUSE_CONN_ID``
changes the id):
1. the environment variable ``AIRFLOW_CONN_DACU_WAREHOUSE`` (URI or JSON form,
   exactly as Airflow reads it), read without importing Airflow so the CLI is fast;
2. inside an Airflow task, the connection from Airflow's secrets backends/metadata DB;
3. the embedded default: the SQLite file ``$DACU_HOME/warehouse.db``.
"""
from __future__ import annotations

import json
import logging
import os
from functools import lru_cache
from urllib.parse import quote, unquote, urlsplit, parse_qsl

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, URL

from dacu.paths import dacu_home

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "dacu_warehouse"


class WarehouseConfigError(ValueError):
    """The warehouse connection is set but cannot be understood."""


def conn_id() -> str:
    return os.environ.get("DACU_WAREHOUSE_CONN_ID", DEFAULT_CONN_ID)


def default_sqlite_url() -> str:
    return f"sqlite:///{dacu_home() / 'warehouse.db'}"


def _url_from_parts(conn_type: str, host: str | None, port, login, password, schema, extra: dict) -> str:
    conn_type = (conn_type or "").lower().replace("-", "_")
    if conn_type == "sqlite":
        path = host or schema
        if not path:
            raise WarehouseConfigError("sqlite warehouse connection has no file path (host)")
        return "sqlite://" if path == ":memory:" else f"sqlite:///{path}"
    if conn_type in ("postgres", "postgresql"):
        query = {k: str(v) for k, v in (extra or {}).items() if k in ("sslmode", "options", "application_name")}
        return URL.create(
            "postgresql+psycopg",
            username=login or None,
            password=password or None,
            host=host or "127.0.0.1",
            port=int(port) if port else None,
            database=schema or "postgres",
            query=query,
        ).render_as_string(hide_password=False)
    raise WarehouseConfigError(f"warehouse connection type {conn_type!r} is not supported (use sqlite or postgres)")


def url_from_airflow_conn_value(value: str) -> str:
    """Turn an ``AIRFLOW_CONN_*`` value (URI or JSON) into a SQLAlchemy URL."""
    value = value.strip()
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except json.JSONDecodeError as exc:
            raise WarehouseConfigError(f"warehouse connection JSON is invalid: {exc}") from None
        extra = data.get("extra") or {}
        if isinstance(extra, str):
            extra = json.loads(extra or "{}")
        return _url_from_parts(data.get("conn_type", ""), data.get("host"), data.get("port"),
                               data.get("login"), data.get("password"), data.get("schema"), extra)
    parts = urlsplit(value)
    scheme = parts.scheme.replace("-", "_")
    if scheme == "sqlite":
        # Airflow URI form: sqlite://%2Fabs%2Fpath.db (host) or sqlite:////abs/path.db (path)
        path = unquote(parts.netloc) if parts.netloc else unquote(parts.path)
        if parts.netloc and parts.path:
            path = unquote(parts.netloc) + unquote(parts.path)
        if not parts.netloc and path.startswith("//"):
            path = path[1:]
        return _url_from_parts("sqlite", path, None, None, None, None, {})
    if scheme in ("postgres", "postgresql") or scheme.startswith("postgresql+"):
        return _url_from_parts(
            "postgres", unquote(parts.hostname or ""), parts.port,
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
            unquote(parts.path.lstrip("/")), dict(parse_qsl(parts.query)),
        )
    raise WarehouseConfigError(f"warehouse connection scheme {parts.scheme!r} is not supported")


def _url_from_airflow(cid: str) -> str | None:
    """Look the connection up through Airflow (task context); None if Airflow has none."""
    try:
        from airflow.sdk import BaseHook  # noqa: PLC0415 - only inside Airflow
    except Exception:  # pragma: no cover - Airflow not installed
        return None
    try:
        conn = BaseHook.get_connection(cid)
    except Exception as exc:  # AirflowNotFoundException and "no task context" both land here
        log.debug("Airflow has no connection %s: %s", cid, exc.__class__.__name__)
        return None
    extra = conn.extra_dejson if hasattr(conn, "extra_dejson") else {}
    return _url_from_parts(conn.conn_type, conn.host, conn.port, conn.login, conn.password, conn.schema, extra)


def resolve_url(url: str | None = None, *, use_airflow: bool = False) -> str:
    """The SQLAlchemy URL of the warehouse (explicit ``url`` wins)."""
    if url:
        return url
    cid = conn_id()
    env_value = os.environ.get(f"AIRFLOW_CONN_{cid.upper()}")
    if env_value:
        return url_from_airflow_conn_value(env_value)
    if use_airflow:
        found = _url_from_airflow(cid)
        if found:
            return found
    default = default_sqlite_url()
    log.info("No connection %r configured; using the embedded SQLite warehouse %s", cid, default)
    return default


def _sqlite_pragmas(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.execute("PRAGMA cache_size=-200000")
    cur.close()


def make_engine(url: str) -> Engine:
    """A new engine (SQLite gets WAL and a busy timeout); callers dispose it."""
    if url.startswith("sqlite"):
        path = url.split("sqlite:///", 1)[-1]
        if path and path != url:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        eng = create_engine(url, future=True)
        event.listen(eng, "connect", _sqlite_pragmas)
        return eng
    return create_engine(url, future=True, pool_pre_ping=True)


@lru_cache(maxsize=8)
def _cached_engine(url: str) -> Engine:
    return make_engine(url)


def get_engine(url: str | None = None, *, use_airflow: bool = False) -> Engine:
    """The process-wide engine of the warehouse (cached per URL)."""
    return _cached_engine(resolve_url(url, use_airflow=use_airflow))


def describe(url: str) -> str:
    """A URL fit for logs (password hidden)."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def init_schema(engine: Engine) -> None:
    """Create every table and index that does not exist yet (idempotent)."""
    from dacu.warehouse.schema import metadata

    metadata.create_all(engine)


def quote_conn_path(path: str) -> str:
    """The ``AIRFLOW_CONN_*`` URI for a SQLite file (Airflow's %2F host form)."""
    return "sqlite://" + quote(os.path.abspath(path), safe="")


def airflow_conn_value(url: str) -> str:
    """The ``AIRFLOW_CONN_DACU_WAREHOUSE`` value for a SQLAlchemy warehouse URL."""
    if url.startswith("sqlite:"):
        return url
    from sqlalchemy.engine import make_url

    u = make_url(url).set(drivername="postgres")
    return u.render_as_string(hide_password=False)
