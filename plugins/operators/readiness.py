"""Readiness operators: the gates of issue 4, large-send approvals and scene tasks (thin, over dacu.readiness).

- ReadinessGateOperator: one gate at the run's moment -> readiness_results (idempotent per moment).
- ReadinessReportOperator: logs the latest result of every gate and the blocked strategies.
- SendApprovalOperator: Airflow HITL approval of a large send (thresholds from the playbook).
- SceneTaskOperator: Airflow HITL task for a scene task (back-office link; who confirmed, when).
The moment is ``at`` (ISO with offset, or sale-local "YYYY-MM-DD HH:MM") when given, else
the run's own time; never the wall clock.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from operators.context import due_gate_moment, gateway_url, load_playbook, run_time, warehouse


def _moment(at: str, context: Any, playbook) -> datetime:
    if at:
        from dacu.playbook.timeparse import parse_local_datetime

        try:
            value = datetime.fromisoformat(at)
        except ValueError:
            return parse_local_datetime(at, playbook.tz)
        return value if value.tzinfo else value.replace(tzinfo=playbook.tz)
    return run_time(context)


class ReadinessGateOperator(BaseOperator):
    """Runs one readiness gate and records pass / warn / fail with reasons.

    The result row is keyed (sale, gate, moment): a rerun or backfill replaces it. A
    failing gate does not fail the task by default (the strategies it blocks are
    skipped with the reason by the segment/dispatch steps); ``fail_task=True`` makes
    a failing gate fail the task too. XCom: status, reasons and blocked strategy ids.
    """

    template_fields: Sequence[str] = ("playbook", "gate", "at", "gateway_url")
    ui_color = "#fde68a"

    def __init__(self, *, playbook: str, gate: str, at: str = "", gateway_url: str = "",
                 fail_task: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.playbook = playbook
        self.gate = gate
        self.at = at
        self.gateway_url = gateway_url
        self.fail_task = fail_task

    def execute(self, context: Any) -> dict:
        from dacu.readiness import make_probe, run_checks

        pb = load_playbook(self.playbook)
        at = _moment(self.at, context, pb)
        # The channel gateway: the operator's argument, else the dacu_sms_gateway connection.
        probe = make_probe(self.gateway_url or gateway_url() or None)
        try:
            report = run_checks(warehouse(), pb, at, gates=[self.gate], probe=probe, record=True)
        finally:
            if probe is not None:
                probe.close()
        res = report.results[0]
        log = self.log.warning if res.status != "pass" else self.log.info
        log("Readiness gate %s %s at %s", res.gate, res.status.upper(), at.astimezone(pb.tz).isoformat())
        for reason in res.reasons:
            log("  - %s", reason)
        for sid, reason in sorted(res.blocked.items()):
            self.log.warning("  blocks %s: %s", sid, reason)
        if res.status == "fail" and self.fail_task:
            raise AirflowFailException(f"readiness gate {res.gate} failed: {'; '.join(res.reasons[:5])}")
        return {"gate": res.gate, "status": res.status, "at": at.isoformat(), "reasons": res.reasons[:50],
                "blocked": sorted(res.blocked)}


class ReadinessReportOperator(BaseOperator):
    """Logs the readiness report: every gate's latest result at the moment, and the blocked strategies."""

    template_fields: Sequence[str] = ("playbook", "at")
    ui_color = "#fde68a"

    def __init__(self, *, playbook: str, at: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.playbook = playbook
        self.at = at

    def execute(self, context: Any) -> dict:
        from dacu.readiness import blocked_strategies, latest_results

        pb = load_playbook(self.playbook)
        at = _moment(self.at, context, pb)
        engine = warehouse()
        rows = latest_results(engine, pb.sale.id, at)
        blocked = blocked_strategies(engine, pb, at)
        self.log.info("Readiness of %s at %s", pb.sale.id, at.astimezone(pb.tz).isoformat())
        for r in rows:
            (self.log.warning if r["status"] != "pass" else self.log.info)(
                "  %s %-12s (checked %s): %s", r["status"].upper(), r["gate"],
                r["check_at"].astimezone(pb.tz).strftime("%Y-%m-%d %H:%M"), " | ".join(r["reasons"]))
        for sid, reason in sorted(blocked.items()):
            self.log.warning("  skipped %s: %s", sid, reason)
        # Reasons are short texts about data and settings (no customer data); the first few per gate.
        return {"at": at.isoformat(), "gates": {r["gate"]: r["status"] for r in rows},
                "reasons": {r["gate"]: list(r["reasons"])[:3] for r in rows if r["status"] != "pass"},
                "blocked": blocked}


def _record(operator: Any, kind: str, context: Any, event: dict, detail: dict) -> None:
    from dacu.readiness import record_confirmation

    pb = load_playbook(operator.playbook)
    user = event.get("responded_by_user") or {}
    chosen = event.get("chosen_options") or []
    decision = "timeout" if event.get("error_type") == "timeout" else (chosen[0] if chosen else "none")
    record_confirmation(warehouse(), pb.sale.id, kind, operator.strategy_id, _moment(operator.at, context, pb),
                        decision, (user.get("name") or user.get("id")) if isinstance(user, dict) else str(user),
                        event.get("responded_at"), {**detail, "params_input": event.get("params_input") or {}})


class _RecordsAnswer:
    """Mixin for the HITL operators: whatever the answer (or a timeout), who and when go to
    readiness_confirmations under ``answer_kind``."""

    answer_kind: str = ""

    def _playbook_and_moment(self, context: Any):
        """The playbook and the moment this task is about: its gate's due moment in the run's plan."""
        if self.gate:
            self.at = self.at or due_gate_moment(context, self.gate, self.strategy_id)
        pb = load_playbook(self.playbook)
        return pb, _moment(self.at, context, pb)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        try:
            return super().execute_complete(context, event)
        finally:
            _record(self, self.answer_kind, context, event, {"subject": self.subject})


class SendApprovalOperator(_RecordsAnswer, ApprovalOperator):
    """A large send waits for a person: crowd size, recipients, cost and a sample message.

    Below both thresholds (``readiness.approval_min_recipients`` / ``approval_min_cost``)
    it returns at once. Approve lets the downstream send run; Reject skips it. The
    answer (who, when) goes to readiness_confirmations.
    """

    template_fields: Sequence[str] = ("subject", "body", "playbook", "strategy_id", "at")
    ui_color = "#fecaca"
    answer_kind = "approval"

    def __init__(self, *, playbook: str, strategy_id: str, at: str = "", gate: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("subject", f"Approve large send {strategy_id}")
        super().__init__(**kwargs)
        self.playbook = playbook
        self.strategy_id = strategy_id
        self.at = at
        self.gate = gate

    def execute(self, context: Any) -> Any:
        from dacu.readiness import approval_request

        pb, moment = self._playbook_and_moment(context)
        req = approval_request(warehouse(), pb, self.strategy_id, moment)
        if not req.required:
            self.log.info("No approval needed for %s: %s recipients, %.2f yuan", self.strategy_id,
                          req.recipients, req.cost)
            return {"approval": "not_required", **req.as_dict()}
        self.subject = req.subject(pb)
        self.body = req.body(pb)
        self.log.info("Approval needed for %s: %s", self.strategy_id, "; ".join(req.why))
        return super().execute(context)


class SceneTaskOperator(_RecordsAnswer, HITLOperator):
    """A scene task (seed 000 业务场景玩法任务): the person does it in the linked back office and
    answers Done / Not done; who and when go to readiness_confirmations."""

    template_fields: Sequence[str] = ("subject", "body", "playbook", "strategy_id", "at")
    ui_color = "#bfdbfe"
    answer_kind = "scene_task"
    DONE, NOT_DONE = "Done", "Not done"

    def __init__(self, *, playbook: str, strategy_id: str, at: str = "", gate: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("subject", f"Scene task {strategy_id}")
        kwargs.setdefault("options", [self.DONE, self.NOT_DONE])
        super().__init__(**kwargs)
        self.playbook = playbook
        self.strategy_id = strategy_id
        self.at = at
        self.gate = gate

    def execute(self, context: Any) -> Any:
        from dacu.readiness import scene_tasks

        pb, moment = self._playbook_and_moment(context)
        task = next((t for t in scene_tasks(pb) if t.strategy_id == self.strategy_id), None)
        if task is None:
            raise AirflowFailException(f"{self.playbook}: {self.strategy_id} is not a scene_task strategy")
        self.subject = task.subject(pb, moment)
        self.body = task.body()
        return super().execute(context)


class PhasePreflightOperator(BaseOperator):
    """Re-runs the send-critical readiness gates before a phase's first send.

    On the phase's first sale day with something due, the coupon, budget and
    carrier gates run at the day's first gate moment, so a coupon that was
    never issued or a channel that ran dry since the readiness phase blocks the
    strategies that depend on it before anything goes out. Other days skip.
    """

    template_fields: Sequence[str] = ("playbook", "phase_id")
    ui_color = "#fde68a"
    GATES = ("coupons", "budget", "carriers")

    def __init__(self, *, playbook: str, phase_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.playbook = playbook
        self.phase_id = phase_id

    def execute(self, context: Any) -> dict:
        from datetime import date

        from airflow.sdk.exceptions import AirflowSkipException

        from dacu.readiness import make_probe, run_checks
        from operators.context import day_plan

        plan = day_plan(context)
        pb = load_playbook(self.playbook)
        first_send_day = next((d for d in pb.phase(self.phase_id).days() if pb.due(self.phase_id, d)), None)
        if first_send_day is None or date.fromisoformat(plan["day"]) != first_send_day:
            raise AirflowSkipException(f"not the first send day of phase {self.phase_id} ({first_send_day})")
        first_gate = min(datetime.fromisoformat(g["at"]) for g in plan["gates"].values() if g["strategies"])
        probe = make_probe(gateway_url() or None)
        try:
            report = run_checks(warehouse(), pb, first_gate, gates=self.GATES, probe=probe, record=True)
        finally:
            if probe is not None:
                probe.close()
        for res in report.results:
            (self.log.warning if res.status != "pass" else self.log.info)(
                "Preflight %s %s: %s", res.gate, res.status.upper(), " | ".join(res.reasons))
        return {"at": first_gate.isoformat(), "gates": {r.gate: r.status for r in report.results},
                "blocked": sorted(report.blocked)}
