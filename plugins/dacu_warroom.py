"""大促作战室 (the sale war room) inside the Airflow UI: a FastAPI app served by the api-server.

Mounted at ``/warroom``; linked in the UI's navigation (Browse) and from every DAG
run (it then opens as of that run's day). Every route, the static files included,
requires a valid Airflow login: the JWT the UI keeps in the ``_token`` cookie or an
``Authorization: Bearer`` header, validated by Airflow's own ``get_user`` (the same
code path as ``/api/v2``, so the same auth manager and the same revocation/expiry
rules). Pages redirect an anonymous browser to the auth manager's login; the JSON
API answers 401. A sale is shown to users who may read its DAGs.

Airflow state (latest run per phase DAG, human-in-the-loop requests waiting) is read
through Airflow's ORM inside the api-server, filtered to the DAGs the user may read:
no HTTP call back into the server (no need to know its public URL or forward the
user's token), one query per panel. The warehouse figures come from ``dacu.warroom``.
"""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)

URL_PREFIX = "/warroom"
STATIC_DIR = Path(__file__).resolve().parent / "dacu_warroom_static"
# Only these files are served (no directory listing, no path from the request reaches the disk).
STATIC_FILES = {"echarts.min.js": "text/javascript", "warroom.js": "text/javascript", "warroom.css": "text/css"}



@asynccontextmanager
async def _lifespan(_app: FastAPI):
    # Import the page's modules when the api-server starts, not on the first visitor's request.
    import dacu.warroom.page  # noqa: F401
    from airflow.models.hitl import HITLDetail  # noqa: F401

    yield


app = FastAPI(title="dacu war room (大促作战室)", docs_url=None, redoc_url=None, openapi_url=None,
              lifespan=_lifespan)
_bearer = HTTPBearer(auto_error=False)


class LoginRequired(Exception):
    """Raised by the page dependency: turned into a redirect to the login page."""


async def _user(request: Request, creds: HTTPAuthorizationCredentials | None):
    # Airflow's own resolver: Bearer header first, else the UI's _token cookie (or the user the
    # JWT-refresh middleware already validated); 401 without a token, 401/403 for a bad one.
    from airflow.api_fastapi.core_api.security import get_user

    return await get_user(request, None, creds)


async def api_user(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)):
    return await _user(request, creds)


async def page_user(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)):
    try:
        return await _user(request, creds)
    except HTTPException as exc:
        raise LoginRequired() from exc


@app.exception_handler(LoginRequired)
async def _to_login(request: Request, exc: LoginRequired):
    from airflow.api_fastapi.app import get_auth_manager

    return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)),
                            status_code=status.HTTP_303_SEE_OTHER)


def _readable(user: Any, dag_ids: list[str]) -> list[str]:
    """The DAGs of ``dag_ids`` the user may read (the auth manager's rule, as in /api/v2)."""
    from airflow.api_fastapi.app import get_auth_manager

    allowed = get_auth_manager().filter_authorized_dag_ids(dag_ids=set(dag_ids), user=user, method="GET")
    return [d for d in dag_ids if d in allowed]


def _ui_root() -> str:
    from airflow.api_fastapi.app import API_ROOT_PATH

    return API_ROOT_PATH.rstrip("/")


class OrmAirflowView:
    """Airflow's metadata through its ORM (inside the api-server process)."""

    available = True

    def latest_runs(self, dag_ids: list[str]) -> dict[str, dict[str, Any]]:
        from sqlalchemy import func, select

        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session

        if not dag_ids:
            return {}
        last = (select(DagRun.dag_id, func.max(DagRun.run_after).label("run_after"))
                .where(DagRun.dag_id.in_(dag_ids)).group_by(DagRun.dag_id).subquery())
        stmt = (select(DagRun.dag_id, DagRun.run_id, DagRun.state, DagRun.run_type, DagRun.run_after,
                       DagRun.logical_date)
                .join(last, (DagRun.dag_id == last.c.dag_id) & (DagRun.run_after == last.c.run_after)))
        out: dict[str, dict[str, Any]] = {}
        with create_session() as session:
            for r in session.execute(stmt):
                out[r.dag_id] = {
                    "run_id": r.run_id, "state": str(getattr(r.state, "value", r.state)),
                    "run_type": str(getattr(r.run_type, "value", r.run_type)),
                    "run_after": r.run_after.isoformat() if r.run_after else None,
                    "logical_date": r.logical_date.isoformat() if r.logical_date else None,
                    "url": f"{_ui_root()}/dags/{quote(r.dag_id)}/runs/{quote(r.run_id, safe='')}",
                }
        return out

    def waiting_actions(self, dag_ids: list[str]) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from airflow.models.hitl import HITLDetail
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session

        if not dag_ids:
            return []
        ti = TaskInstance
        stmt = (select(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, HITLDetail.subject, HITLDetail.created_at)
                .join(ti, HITLDetail.ti_id == ti.id)
                .where(HITLDetail.responded_at.is_(None), ti.dag_id.in_(dag_ids), ti.state == "awaiting_input")
                .order_by(HITLDetail.created_at))
        with create_session() as session:
            return [{"dag_id": r.dag_id, "run_id": r.run_id, "task_id": r.task_id, "subject": r.subject,
                     "created_at": r.created_at.isoformat() if r.created_at else None, "moment": None,
                     "url": (f"{_ui_root()}/dags/{quote(r.dag_id)}/runs/{quote(r.run_id, safe='')}/tasks/"
                             f"{quote(r.task_id)}" + (f"/mapped/{r.map_index}" if r.map_index >= 0 else "")
                             + "/required_actions")}
                    for r in session.execute(stmt)]

    def run_after(self, dag_id: str, run_id: str) -> datetime | None:
        from sqlalchemy import select

        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session

        with create_session() as session:
            value = session.scalar(select(DagRun.run_after).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        return value


def _engine():
    from dacu.warehouse.connect import get_engine

    # The api-server reads the warehouse the same way tasks do: AIRFLOW_CONN_DACU_WAREHOUSE, else Airflow's
    # connection store, else the embedded SQLite file.
    return get_engine(use_airflow=True)


@app.get("/", response_class=HTMLResponse)
async def index(user=Depends(page_user)) -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")


@app.get("/static/{name}")
async def static(name: str, user=Depends(page_user)) -> FileResponse:
    if name not in STATIC_FILES:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file")
    return FileResponse(STATIC_DIR / name, media_type=STATIC_FILES[name],
                        headers={"Cache-Control": "private, max-age=3600"})


@app.get("/api/sales")
def sales(user=Depends(api_user)) -> dict:
    from dacu.warroom import list_sales
    from dacu.warroom.page import find_playbook, sale_dag_ids

    out = []
    for sale in list_sales():
        if "id" in sale and _readable(user, sale_dag_ids(find_playbook(sale["id"]))):
            out.append(sale)
    return {"sales": out, "user": getattr(user, "get_name", lambda: None)()}


@app.get("/api/sale/{sale_id}")
def sale_page(sale_id: str, today: str | None = None, day_from: str | None = None, day_to: str | None = None,
              dag: str | None = None, run: str | None = None, user=Depends(api_user)) -> JSONResponse:
    """The page's data. ``today``: the moment the page is "as of" (YYYY-MM-DD = end of that sale-local
    day, YYYY-MM-DDTHH:MM, or ISO with offset); default: the DAG run's time when opened from a run
    (``dag``/``run``), else the wall clock (a display concern: tasks never read the clock)."""
    from dacu.warroom import WarroomInputError, parse_now, warroom_data
    from dacu.warroom.page import find_playbook, sale_dag_ids

    try:
        playbook = find_playbook(sale_id)
    except KeyError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no sale {sale_id!r}") from None
    visible = _readable(user, sale_dag_ids(playbook))
    if not visible:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"you may not read the DAGs of sale {sale_id}")
    view = OrmAirflowView()
    default_now = datetime.now(UTC)
    if not today and dag and run and dag in visible:
        run_after = view.run_after(dag, run)
        if run_after is not None:
            default_now = run_after
    try:
        now = parse_now(today, playbook.tz, default_now)
        data = warroom_data(_engine(), playbook, now, day_from=day_from, day_to=day_to, airflow=view,
                            dag_ids=visible)
    except (WarroomInputError, ValueError) as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    data["ui_root"] = _ui_root()
    return JSONResponse(data, headers={"Cache-Control": "no-store"})


class DacuWarroomPlugin(AirflowPlugin):
    name = "dacu_warroom"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "dacu war room"}]
    external_views = [
        {"name": "大促作战室", "href": f"{URL_PREFIX}/", "url_route": "dacu-warroom", "destination": "nav",
         "category": "browse"},
        {"name": "大促作战室", "href": f"{URL_PREFIX}/?dag={{DAG_ID}}&run={{RUN_ID}}",
         "url_route": "dacu-warroom-run", "destination": "dag_run"},
    ]
