"""Small helpers shared by dacu operators: the run's time, the day's plan, the warehouse."""
from __future__ import annotations

from datetime import datetime
from typing import Any

PLAN_TASK_ID = "plan_day"


def run_time(context: Any) -> datetime:
    """The run's own time: its logical date, else ``run_after`` (manual runs in 3.3 have no logical date)."""
    dag_run = context["dag_run"]
    logical = getattr(dag_run, "logical_date", None)
    return logical or dag_run.run_after


def day_plan(context: Any) -> dict:
    """The plan written by the ``plan_day`` task of this run."""
    plan = context["ti"].xcom_pull(task_ids=PLAN_TASK_ID)
    if not plan:
        raise RuntimeError(f"no plan from task {PLAN_TASK_ID!r} in this run")
    return plan


def due_gate_moment(context: Any, gate_key: str, strategy_id: str) -> str:
    """The gate's moment (ISO) on the run's sale day; skips the task when the strategy is not due there."""
    from airflow.sdk.exceptions import AirflowSkipException

    gate = day_plan(context)["gates"].get(gate_key) or {}
    if strategy_id not in gate.get("strategies", []):
        raise AirflowSkipException(f"{strategy_id} is not due at gate {gate_key} on this sale day")
    return gate["at"]


def load_playbook(name: str):
    """A playbook by file name (relative to include/playbooks/) or path."""
    from pathlib import Path

    from dacu.paths import PLAYBOOK_DIR
    from dacu.playbook import load_playbook as _load

    path = Path(name)
    return _load(path if path.is_absolute() else PLAYBOOK_DIR / path)


def warehouse():
    """The warehouse engine through the Airflow connection (``dacu_warehouse``)."""
    from dacu.warehouse.connect import get_engine

    return get_engine(use_airflow=True)


def gateway_url(conn_id: str = "dacu_sms_gateway") -> str | None:
    """Base URL of the SMS / in-app channel gateway from an Airflow HTTP connection (None if absent)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    host = conn.host or ""
    if "://" in host:
        return host.rstrip("/")
    scheme = conn.schema or "http"
    return f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
