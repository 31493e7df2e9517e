"""The sale's calendar on the war-room page: phases on a timeline, today's position, the next gate.

"Now" is a display concern: the page takes it from the request (``?today=``) and
defaults to the wall clock there; everything here receives it as an argument.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from dacu.warroom.labels import PHASE_STATUS


def parse_now(value: str | None, tz, default: datetime) -> datetime:
    """``YYYY-MM-DD`` (that day's 23:59:59 sale-local: "as of the end of that day"),
    ``YYYY-MM-DDTHH:MM`` (sale-local) or an ISO moment with offset; empty: ``default``."""
    if not value:
        return default.astimezone(tz)
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(23, 59, 59), tzinfo=tz)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"today={value!r}: expected YYYY-MM-DD, YYYY-MM-DDTHH:MM or an ISO datetime") from None
    return moment.astimezone(tz) if moment.tzinfo else moment.replace(tzinfo=tz)


def phase_status(start: datetime, end: datetime, now: datetime) -> str:
    if now < start:
        return "upcoming"
    return "done" if now > end else "current"


def next_gate(playbook: Any, now: datetime, horizon_days: int = 120) -> dict[str, Any] | None:
    """The first gate moment strictly after ``now``, its phase and the strategies due then."""
    best: tuple[datetime, str, list[str]] | None = None
    local_now = now.astimezone(playbook.tz)
    for phase in playbook.phases:
        for day in phase.days():
            if day < local_now.date() or day > local_now.date() + timedelta(days=horizon_days):
                continue
            if best is not None and day > best[0].date():
                break
            for t, strategy_ids in sorted(playbook.due(phase.id, day).items()):
                at = datetime.combine(day, t, tzinfo=playbook.tz)
                if at > local_now and strategy_ids and (best is None or at < best[0]):
                    best = (at, phase.id, list(strategy_ids))
                    break
    if best is None:
        return None
    at, phase_id, ids = best
    return {"at": at.isoformat(), "phase": phase_id, "phase_name": playbook.phase(phase_id).name,
            "dag_id": f"{playbook.sale.id}__{phase_id}", "in_minutes": int((at - local_now).total_seconds() // 60),
            "strategies": [{"id": sid, "name": playbook.strategy(sid).name} for sid in ids]}


def sale_calendar(playbook: Any, now: datetime, runs: dict[str, dict] | None = None) -> dict[str, Any]:
    """Phases with their windows, status at ``now`` and their DAG's latest run (``runs`` by dag_id)."""
    runs = runs or {}
    sale = playbook.sale
    local_now = now.astimezone(playbook.tz)
    phases = []
    for p in playbook.phases:
        status = phase_status(p.start, p.end, local_now)
        dag_id = f"{sale.id}__{p.id}"
        phases.append({
            "id": p.id, "name": p.name, "dag_id": dag_id, "start": p.start.isoformat(), "end": p.end.isoformat(),
            "status": status, "status_label": PHASE_STATUS[status], "to_confirm": p.to_confirm,
            "windows": [{"id": w.id, "name": w.name, "start": w.start.isoformat(), "end": w.end.isoformat(),
                         "to_confirm": w.to_confirm} for w in p.windows],
            "latest_run": runs.get(dag_id),
        })
    first = min(p.start for p in playbook.phases)
    last = max(p.end for p in playbook.phases)
    return {
        "now": local_now.isoformat(), "today": local_now.date().isoformat(),
        "start": first.isoformat(), "end": last.isoformat(),
        "window": {"start": sale.window.start.isoformat(), "end": sale.window.end.isoformat()},
        "position": max(0.0, min(1.0, (local_now - first) / (last - first))) if last > first else 0.0,
        "phases": phases, "next_gate": next_gate(playbook, local_now),
        "metrics_run": runs.get(f"{sale.id}__metrics"),
    }
