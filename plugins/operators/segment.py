"""SegmentAudienceOperator: a strategy's crowd as of its gate's moment."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

from operators.context import day_plan, due_gate_moment, load_playbook, warehouse


class SegmentAudienceOperator(BaseOperator):
    """Evaluates a strategy's crowd at the gate's moment and writes its snapshot.

    The moment is the gate's time on the run's sale day (never the wall clock),
    so a backfill reproduces that day. The snapshot is keyed by (sale, strategy,
    moment) and a rerun replaces it. XCom carries counts and keys only.
    """

    template_fields: Sequence[str] = ("playbook", "strategy_id", "gate")
    ui_color = "#d9f99d"

    def __init__(self, *, playbook: str, strategy_id: str, gate: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.playbook = playbook
        self.strategy_id = strategy_id
        self.gate = gate

    def execute(self, context: Any) -> dict:
        from dacu.crowds import segment_strategy
        from dacu.readiness import blocked_strategies

        as_of = datetime.fromisoformat(due_gate_moment(context, self.gate, self.strategy_id))
        pb = load_playbook(self.playbook)
        engine = warehouse()
        blocked = blocked_strategies(engine, pb, as_of).get(self.strategy_id)
        if blocked:
            # A failed readiness gate stops exactly the strategies that depend on it.
            raise AirflowSkipException(f"{self.strategy_id} blocked by readiness: {blocked}")
        result = segment_strategy(engine, pb, self.strategy_id, as_of, run_key=as_of.isoformat())
        out = result.as_dict()
        self.log.info("Crowd of %s as of %s: %s", self.strategy_id, as_of.isoformat(), out)
        return out


class CrowdFeaturesOperator(BaseOperator):
    """Builds the day's crowd features before the day's first segment task: the base layer of the
    sale-local day and the history parts of the due strategies' crowds (dacu.crowds.prepare_crowd_day).

    Every segment task of the run waits for it, so a gate's segment tasks only add the gate's own
    layer; it skips when no segment strategy is due on the day. XCom: counts only.
    """

    template_fields: Sequence[str] = ("playbook",)
    ui_color = "#bef264"

    def __init__(self, *, playbook: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.playbook = playbook

    def execute(self, context: Any) -> dict:
        from dacu.crowds import prepare_crowd_day

        pb = load_playbook(self.playbook)
        due: list[str] = []
        first: str | None = None
        for gate in day_plan(context)["gates"].values():
            ids = [sid for sid in gate.get("strategies", []) if _segmented(pb.strategy(sid))]
            if ids:
                due += [sid for sid in ids if sid not in due]
                first = gate["at"] if first is None else min(first, gate["at"])
        if first is None:
            raise AirflowSkipException("no crowd strategy is segmented on this sale day")
        out = prepare_crowd_day(warehouse(), pb, due, datetime.fromisoformat(first))
        self.log.info("Crowd features of %s for %d strategies: %s", out["day"], len(due), out)
        return out


def _segmented(strategy: Any) -> bool:
    """A strategy with a segment task (dacu.dagfactory): a crowd, and not an event-driven reminder."""
    if getattr(strategy, "crowd", None) is None:
        return False
    when = getattr(strategy, "when", None)
    return not (strategy.kind == "payment_reminder" and getattr(when, "form", None) == 3)
