"""People's work on the war-room page: scene tasks awaiting confirmation, approvals waiting,
and the readiness gates with pass / warn / fail and their reasons.

Scene-task and approval answers come from ``readiness_confirmations`` (written by the
HITL operators); the requests still open come from Airflow (``AirflowView``), which
also gives the link to answer them in the UI.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from dacu.readiness import confirmations, latest_results
from dacu.warroom.labels import DECISIONS, GATES, READINESS, SCENES, label
from dacu.warroom.util import as_moment, utc_naive

OPEN_DECISIONS = ("Not done", "timeout", "none")


def _task_of(action: dict[str, Any], marker: str) -> str | None:
    task_id = action.get("task_id") or ""
    return task_id.split(marker, 1)[1] if marker in task_id else None


def scene_tasks_open(engine: Engine, playbook: Any, now: datetime, waiting: list[dict[str, Any]],
                     upcoming_hours: int = 48) -> dict[str, Any]:
    """Scene tasks due by ``now`` and not confirmed done (newest first), and those due in the next hours."""
    sale_id = playbook.sale.id
    answers = {(c["item_id"], utc_naive(as_moment(c["moment"]))): c
               for c in confirmations(engine, sale_id) if c["kind"] == "scene_task"}
    asks: dict[str, list[dict]] = {}
    for a in waiting:
        sid = _task_of(a, ".scene__")
        if sid:
            asks.setdefault(sid, []).append(a)
    open_rows, upcoming, done = [], [], 0
    horizon = now + timedelta(hours=upcoming_hours)
    for s in playbook.strategies:
        if s.kind != "scene_task":
            continue
        for moment in s.moments():
            base = {"id": s.id, "name": s.name, "scene": s.scene, "scene_label": label(SCENES, s.scene),
                    "phase": s.phase, "phase_name": playbook.phase(s.phase).name, "link": s.link,
                    "moment": moment.isoformat(), "description": s.description}
            if moment > now:
                if moment <= horizon:
                    upcoming.append(base)
                continue
            answer = answers.get((s.id, utc_naive(moment)))
            if answer is not None and answer["decision"] not in OPEN_DECISIONS:
                done += 1
                continue
            ask = next((a for a in asks.get(s.id, []) if a.get("moment") in (None, moment.isoformat())), None)
            decision = answer["decision"] if answer else None
            open_rows.append({**base, "decision": decision, "decision_label": label(DECISIONS, decision) if decision
                              else ("等待确认" if ask else "未确认"),
                              "responded_by": answer["responded_by"] if answer else None,
                              "airflow_url": ask.get("url") if ask else None})
    open_rows.sort(key=lambda r: r["moment"], reverse=True)
    upcoming.sort(key=lambda r: r["moment"])
    return {"open": open_rows, "upcoming": upcoming, "done": done}


def approvals(engine: Engine, playbook: Any, waiting: list[dict[str, Any]], recent: int = 10) -> dict[str, Any]:
    """Large-send approvals waiting in Airflow, and the latest answered ones."""
    names = {s.id: s.name for s in playbook.strategies}
    rows = []
    for a in waiting:
        sid = _task_of(a, ".approve__")
        if sid:
            rows.append({**a, "strategy_id": sid, "name": names.get(sid, sid)})
    answered = [c for c in confirmations(engine, playbook.sale.id) if c["kind"] == "approval"]
    answered.sort(key=lambda c: str(c["responded_at"] or c["moment"]), reverse=True)
    return {"waiting": rows,
            "answered": [{"strategy_id": c["item_id"], "name": names.get(c["item_id"], c["item_id"]),
                          "moment": as_moment(c["moment"]).astimezone(playbook.tz).isoformat(),
                          "decision": c["decision"], "decision_label": label(DECISIONS, c["decision"]),
                          "responded_by": c["responded_by"]} for c in answered[:recent]]}


def readiness_gates(engine: Engine, playbook: Any, now: datetime) -> list[dict[str, Any]]:
    """Each gate's latest result at ``now`` with its reasons and the strategies it blocks (by name)."""
    names = {s.id: s.name for s in playbook.strategies}
    out = []
    for r in latest_results(engine, playbook.sale.id, now):
        out.append({"gate": r["gate"], "gate_label": label(GATES, r["gate"]), "status": r["status"],
                    "status_label": label(READINESS, r["status"]),
                    "check_at": r["check_at"].astimezone(playbook.tz).isoformat(), "reasons": r["reasons"],
                    "blocked": [{"id": sid, "name": names.get(sid, sid), "reason": why}
                                for sid, why in sorted(r["blocked"].items())]})
    order = {g: i for i, g in enumerate(GATES)}
    out.sort(key=lambda r: order.get(r["gate"], 99))
    return out
