"""The day's plan and the time-sensor gates of a phase DAG."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

from operators.context import PLAN_TASK_ID, day_plan, load_playbook, run_time


class PhasePlanOperator(BaseOperator):
    """Turns the run's time into the sale day's plan (gates and due strategies).

    :param playbook: playbook file name under include/playbooks/
    :param phase_id: the phase this DAG runs
    """

    template_fields: Sequence[str] = ("playbook", "phase_id")
    ui_color = "#fde68a"

    def __init__(self, *, playbook: str, phase_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.playbook = playbook
        self.phase_id = phase_id

    def execute(self, context: Any) -> dict:
        from dacu.planning import plan_day, sale_day_of

        pb = load_playbook(self.playbook)
        params = context.get("params") or {}
        day = sale_day_of(pb, run_time(context), params.get("sale_day") or None)
        plan = plan_day(pb, self.phase_id, day, dry_run=bool(params.get("dry_run", False)))
        due = {k: len(g["strategies"]) for k, g in plan["gates"].items() if g["strategies"]}
        self.log.info("Sale %s phase %s day %s: %d strategies due at gates %s",
                      pb.sale.id, self.phase_id, plan["day"], plan["due_count"], due or "(none)")
        return plan


class GateSensor(DateTimeSensorAsync):
    """Waits (deferred, no worker slot) until a gate's moment on the run's sale day.

    The target comes from the day's plan, which is derived from the run's own
    time, so a backfill of a past day passes at once and a scheduled run waits
    for the real moment. A gate with nothing due that day skips itself and its
    strategies.
    """

    ui_color = "#bfdbfe"

    def __init__(self, *, gate: str, **kwargs: Any) -> None:
        kwargs.setdefault(
            "target_time", "{{ ti.xcom_pull(task_ids='%s')['gates']['%s']['at'] }}" % (PLAN_TASK_ID, gate)
        )
        super().__init__(**kwargs)
        self.gate = gate

    def execute(self, context: Any):
        gate = day_plan(context)["gates"].get(self.gate)
        if not gate or not gate["strategies"]:
            raise AirflowSkipException(f"gate {self.gate}: no strategy due on this sale day")
        self.log.info("Gate %s at %s for %d strategies: %s", self.gate, self.target_time,
                      len(gate["strategies"]), ", ".join(gate["strategies"]))
        return super().execute(context)
