"""Shared fixtures. Every warehouse test runs on SQLite and on PostgreSQL.

PostgreSQL: 127.0.0.1:5432, trust auth, user postgres (``DACU_TEST_PG``
overrides the server URL). Each test gets its own database, dropped after.
Airflow's environment is set here, before anything imports Airflow.
"""
from __future__ import annotations

import os
import pathlib
import uuid
from contextlib import contextmanager

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
_AF_HOME = pathlib.Path(os.environ.get("DACU_TEST_AIRFLOW_HOME", f"/tmp/dacu-test-airflow-{os.getpid()}"))
# Tests never touch the demo's Airflow home or warehouse, whatever the shell exports.
os.environ["AIRFLOW_HOME"] = str(_AF_HOME)
os.environ["DACU_HOME"] = str(_AF_HOME / "dacu-home")
os.environ.pop("AIRFLOW_CONN_DACU_WAREHOUSE", None)
os.environ.pop("DACU_WAREHOUSE_CONN_ID", None)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AF_HOME}/airflow.db"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"

PG_SERVER = os.environ.get("DACU_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _pg_admin():
    import psycopg

    return psycopg.connect(PG_SERVER.replace("postgresql+psycopg", "postgresql"), autocommit=True)


@pytest.fixture(scope="session")
def pg_available() -> bool:
    try:
        with _pg_admin():
            return True
    except Exception:
        return False


def _new_pg_database():
    name = f"dacu_test_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as cx:
        cx.execute(f'CREATE DATABASE "{name}"')
    return name, PG_SERVER.rsplit("/", 1)[0] + f"/{name}"


def _drop_pg_database(name: str) -> None:
    with _pg_admin() as cx:
        cx.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _require_pg() -> None:
    try:
        with _pg_admin():
            pass
    except Exception:
        if os.environ.get("DACU_REQUIRE_PG", "1") == "1":
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is not reachable (set DACU_REQUIRE_PG=0 to skip)")
        pytest.skip("PostgreSQL not reachable")


@contextmanager
def module_warehouse(backend: str, folder: pathlib.Path):
    """An engine on a warehouse of its own with the schema created (SQLite: a file in ``folder``;
    PostgreSQL: a new database, dropped after): for module-scoped fixtures that many tests share."""
    from dacu.warehouse import init_schema, make_engine

    name = None
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'warehouse.db'}"
    else:
        _require_pg()
        name, url = _new_pg_database()
    eng = make_engine(url)
    try:
        init_schema(eng)
        yield eng
    finally:
        eng.dispose()
        if name:
            _drop_pg_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request, tmp_path, pg_available):
    """A fresh, empty warehouse URL on each backend (schema not created)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warehouse.db'}"
        return
    if not pg_available:
        if os.environ.get("DACU_REQUIRE_PG", "1") == "1":
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is not reachable (set DACU_REQUIRE_PG=0 to skip)")
        pytest.skip("PostgreSQL not reachable")
    name, url = _new_pg_database()
    try:
        yield url
    finally:
        _drop_pg_database(name)


@pytest.fixture
def engine(warehouse_url):
    """An engine on a fresh warehouse with the schema created."""
    from dacu.warehouse import init_schema, make_engine

    eng = make_engine(warehouse_url)
    init_schema(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata DB (SQLite, per test process) migrated once per session."""
    import subprocess
    import sys

    _AF_HOME.mkdir(parents=True, exist_ok=True)
    airflow_bin = pathlib.Path(sys.executable).with_name("airflow")
    res = subprocess.run([str(airflow_bin), "db", "migrate"], capture_output=True, text=True, env=os.environ)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    return _AF_HOME

