"""The war-room page's data for one sale, as one JSON-ready dict.

Every reader here touches snapshot and summary tables only (their size grows
with days, strategies and crowds, not customers); tests/test_warroom.py checks
the SQL the page runs never names a per-customer table.
"""
from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from dacu.paths import PLAYBOOK_DIR
from dacu.warroom.airflow_view import AirflowView, NoAirflow
from dacu.warroom.calendar import sale_calendar
from dacu.warroom.labels import RUN_STATES
from dacu.warroom.metrics_view import (
    amount_share, available_ranges, crowd_metrics, funnel_trend, pick_range, warmup_radar,
)
from dacu.warroom.strategies import strategy_tasks
from dacu.warroom.tasks import approvals, readiness_gates, scene_tasks_open


class WarroomInputError(ValueError):
    """A bad query parameter (the message names it)."""


def list_sales(playbook_dir: Path = PLAYBOOK_DIR) -> list[dict[str, Any]]:
    """Every shipped playbook's sale: id, name, platform, window, file (broken files are listed with the error)."""
    from dacu.playbook import PlaybookError, load_playbook

    out = []
    for path in sorted(playbook_dir.glob("*.yaml")):
        try:
            pb = load_playbook(path)
        except PlaybookError as exc:
            out.append({"file": path.name, "error": str(exc).splitlines()[0]})
            continue
        out.append({"id": pb.sale.id, "name": pb.sale.name, "platform": pb.sale.platform, "file": path.name,
                    "start": pb.sale.window.start.isoformat(), "end": pb.sale.window.end.isoformat()})
    return out


def find_playbook(sale_id: str, playbook_dir: Path = PLAYBOOK_DIR):
    from dacu.playbook import load_playbook

    for sale in list_sales(playbook_dir):
        if sale.get("id") == sale_id:
            return load_playbook(playbook_dir / sale["file"])
    raise KeyError(sale_id)


def _day(name: str, value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise WarroomInputError(f"{name}={value!r}: expected YYYY-MM-DD") from None


def _run_labels(runs: dict[str, dict]) -> dict[str, dict]:
    return {k: {**v, "state_label": RUN_STATES.get(str(v.get("state")), str(v.get("state")))} for k, v in runs.items()}


def sale_dag_ids(playbook: Any) -> list[str]:
    return [f"{playbook.sale.id}__{p.id}" for p in playbook.phases] + [f"{playbook.sale.id}__metrics"]


def warroom_data(engine: Engine, playbook: Any, now: datetime, *, day_from: str | None = None,
                 day_to: str | None = None, airflow: AirflowView | None = None,
                 dag_ids: list[str] | None = None) -> dict[str, Any]:
    """Everything the page shows for one sale at ``now`` (aware). ``day_from``/``day_to`` pick the
    metrics snapshot (default: the latest single day by ``now``); ``dag_ids`` limits what is read
    from Airflow to the DAGs the user may see."""
    t0 = time.perf_counter()
    airflow = airflow or NoAirflow()
    sale = playbook.sale
    tz = playbook.tz
    local_now = now.astimezone(tz)
    today = local_now.date()
    f, t = _day("day_from", day_from), _day("day_to", day_to)
    if (f is None) != (t is None):
        f, t = f or t, t or f
    if f and t and f > t:
        raise WarroomInputError(f"day_from={f} is after day_to={t}")
    ranges = available_ranges(engine, sale.id)
    if f is None:
        picked = pick_range(ranges, today)
        f, t = picked if picked else (min(today, sale.window.end), min(today, sale.window.end))
    visible = dag_ids if dag_ids is not None else sale_dag_ids(playbook)
    runs = _run_labels(airflow.latest_runs(visible)) if visible else {}
    waiting = airflow.waiting_actions(visible) if visible else []
    metrics = crowd_metrics(engine, sale.id, f, t)
    trend_end = min(max(t, today), sale.window.end)
    warm = [p for p in playbook.phases if p.id == "warmup"]
    warm_from = warm[0].start.date() if warm else sale.window.start
    return {
        "sale": {"id": sale.id, "name": sale.name, "platform": sale.platform, "timezone": sale.timezone,
                 "to_confirm": sale.to_confirm, "reference_day": sale.reference_day.isoformat()},
        "calendar": sale_calendar(playbook, local_now, runs),
        "metrics": {**metrics, "ranges": ranges},
        "trend": funnel_trend(engine, sale.id, sale.window.start, trend_end),
        "share": amount_share(metrics),
        "radar": warmup_radar(engine, sale.id, warm_from, min(t, warm[0].end.date()) if warm else t),
        "strategies": strategy_tasks(engine, playbook, local_now, metrics),
        "scene_tasks": scene_tasks_open(engine, playbook, local_now, waiting),
        "approvals": approvals(engine, playbook, waiting),
        "readiness": readiness_gates(engine, playbook, local_now),
        "airflow": {"available": bool(getattr(airflow, "available", True)), "dag_ids": visible},
        "elapsed_ms": round((time.perf_counter() - t0) * 1000, 1),
    }
