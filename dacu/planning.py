"""What a phase does on one sale day: the gates due and the strategies behind them.

A phase DAG ticks once per sale-local day (00:00 in the sale's timezone). Its
first task turns the run's own time into that day's plan; gates and strategy
tasks read the plan, so a scheduled run, a manual run (no logical date in
Airflow 3.3) and a backfill of a past day all do the same thing for the same day.
The plan carries keys and counts only (it travels through XCom).
"""
from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from dacu.playbook import Playbook

# Kinds of strategy whose crowd the system selects (and later sends to).
CROWD_KINDS = ("crowd_task", "payment_reminder", "notice")


def gate_key(t: time) -> str:
    """Stable task-id part of a gate: ``g2000`` for 20:00."""
    return f"g{t.hour:02d}{t.minute:02d}"


def sale_day_of(playbook: Playbook, run_time: datetime, override: str | None = None) -> date:
    """The sale-local calendar day a run stands for.

    ``override`` (the ``sale_day`` param of a manual run) wins; otherwise the
    run's own time (logical date, or ``run_after`` for runs without one) read in
    the sale's timezone.
    """
    if override:
        try:
            return date.fromisoformat(str(override).strip())
        except ValueError:
            raise ValueError(f"param sale_day={override!r} is not a date (YYYY-MM-DD)") from None
    if run_time.tzinfo is None:
        raise ValueError("run time must be timezone-aware")
    return run_time.astimezone(playbook.tz).date()


def plan_day(playbook: Playbook, phase_id: str, day: date, *, dry_run: bool = False) -> dict[str, Any]:
    """The day's plan: every gate of the phase with its moment and due strategies.

    Gates with nothing due are listed with an empty strategy list so the gate
    task can skip itself with that reason.
    """
    due = playbook.due(phase_id, day)
    gates: dict[str, dict[str, Any]] = {}
    for t in playbook.gate_times(phase_id):
        ids = list(due.get(t, []))
        moment = datetime.combine(day, t, tzinfo=playbook.tz)
        gates[gate_key(t)] = {"at": moment.isoformat(), "strategies": ids}
    phase = playbook.phase(phase_id)
    in_window = any(w.start.date() <= day <= w.end.date() for w in phase.windows)
    return {
        "sale_id": playbook.sale.id,
        "phase_id": phase_id,
        "day": day.isoformat(),
        "in_window": in_window,
        "dry_run": bool(dry_run),
        "gates": gates,
        "due_count": sum(len(g["strategies"]) for g in gates.values()),
    }


def crowd_strategies(playbook: Playbook, phase_id: str) -> list:
    """Strategies of a phase that select a crowd (one segment task each)."""
    return [s for s in playbook.strategies_in(phase_id) if s.kind in CROWD_KINDS]


def scene_strategies(playbook: Playbook, phase_id: str) -> list:
    """Scene tasks of a phase: a person works in a back office; the DAG asks and records."""
    return [s for s in playbook.strategies_in(phase_id) if s.kind == "scene_task"]


def strategy_gates(playbook: Playbook, strategy) -> list[str]:
    """Gate keys a strategy can fire at (its moments' times of day)."""
    return sorted({gate_key(m.timetz().replace(tzinfo=None)) for m in strategy.moments()})
