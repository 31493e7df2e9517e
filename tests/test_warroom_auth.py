"""The war-room plugin's app behind Airflow's login (FastAPI TestClient, tokens minted by the auth manager)."""
from __future__ import annotations

import importlib

import pytest

SALE = "tmall_double11_2026"


@pytest.fixture(scope="module")
def client(airflow_db, tmp_path_factory, monkeypatch_module):
    from fastapi.testclient import TestClient

    from dacu.warehouse import init_schema, make_engine

    home = tmp_path_factory.mktemp("warroom-auth")
    url = f"sqlite:///{home / 'warehouse.db'}"
    eng = make_engine(url)
    init_schema(eng)
    eng.dispose()
    monkeypatch_module.setenv("AIRFLOW_CONN_DACU_WAREHOUSE", url)
    monkeypatch_module.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "ops:viewer,nobody:none")
    monkeypatch_module.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "warroom-test-secret-" + "x" * 64)
    from airflow.api_fastapi.app import create_auth_manager

    create_auth_manager()
    from fastapi import FastAPI

    plugin = importlib.import_module("dacu_warroom")
    root = FastAPI()                       # mounted as the api-server mounts plugin apps
    root.mount(plugin.URL_PREFIX, plugin.app)
    with TestClient(root) as c:
        yield c


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _token(role: str | None = "viewer", username: str = "ops", seconds: int = 3600) -> str:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    user = SimpleAuthManagerUser(username=username, role=role)
    return get_auth_manager().generate_jwt(user, expiration_time_in_seconds=seconds)


def test_anonymous_is_refused(client):
    for path in ("/warroom/api/sales", f"/warroom/api/sale/{SALE}"):
        assert client.get(path).status_code == 401, path
    for path in ("/warroom/", "/warroom/static/echarts.min.js", "/warroom/static/warroom.js"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303, path
        assert "/auth/login" in r.headers["location"] and "next=" in r.headers["location"]


def test_bad_and_expired_tokens_are_refused(client):
    assert client.get("/warroom/api/sales", headers={"Authorization": "Bearer not-a-jwt"}).status_code in (401, 403)
    forged = _token()[:-4] + "AAAA"
    assert client.get("/warroom/api/sales", headers={"Authorization": f"Bearer {forged}"}).status_code in (401, 403)
    expired = _token(seconds=-120)          # past Airflow's JWT leeway
    assert client.get("/warroom/api/sales", headers={"Authorization": f"Bearer {expired}"}).status_code == 401
    client.cookies.set("_token", expired)
    try:
        assert client.get("/warroom/", follow_redirects=False).status_code == 303
    finally:
        client.cookies.clear()


def test_logged_in_user_gets_page_and_data(client):
    token = _token()
    r = client.get("/warroom/api/sales", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert SALE in [s["id"] for s in r.json()["sales"]]
    # the browser's way: the UI's _token cookie
    client.cookies.set("_token", token)
    try:
        page = client.get("/warroom/")
        assert page.status_code == 200 and "大促作战室" in page.text
        js = client.get("/warroom/static/echarts.min.js")
        assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
        assert client.get("/warroom/static/../dacu_warroom.py").status_code == 404
        data = client.get(f"/warroom/api/sale/{SALE}", params={"today": "2026-11-12"})
        assert data.status_code == 200
        body = data.json()
        assert body["sale"]["id"] == SALE and body["calendar"]["today"] == "2026-11-12"
        assert body["airflow"]["available"] is True
        # each phase DAG's latest run as Airflow's metadata has it (other tests in this worker may have
        # run some of them in the same metadata DB; none is a run of none)
        from airflow.models import DagRun
        from airflow.utils.session import create_session

        with create_session() as session:
            latest: dict = {}
            for dr in session.query(DagRun).filter(DagRun.dag_id.like(f"{SALE}__%")):
                latest[dr.dag_id] = max(latest.get(dr.dag_id, dr.run_after), dr.run_after)
        assert {p["dag_id"]: (p["latest_run"] or {}).get("run_after") for p in body["calendar"]["phases"]} == {
            p["dag_id"]: latest[p["dag_id"]].isoformat() if p["dag_id"] in latest else None
            for p in body["calendar"]["phases"]}
        assert client.get("/warroom/api/sale/no_such_sale").status_code == 404
        assert client.get(f"/warroom/api/sale/{SALE}", params={"today": "soon"}).status_code == 400
        assert client.get(f"/warroom/api/sale/{SALE}", params={"day_from": "2026-11-12", "day_to": "2026-11-01"}).status_code == 400
    finally:
        client.cookies.clear()


def test_user_without_dag_access_sees_no_sale(client):
    token = _token(role=None, username="nobody")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/warroom/api/sales", headers=headers).json()["sales"] == []
    assert client.get(f"/warroom/api/sale/{SALE}", headers=headers).status_code == 403
