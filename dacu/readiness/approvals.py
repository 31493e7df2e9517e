"""Who must approve what, and the scene tasks a person does in another back office.

Approvals (issue 4 item 7): a send of a strategy waits for a person when its
recipients reach ``readiness.approval_min_recipients`` or its SMS cost for that
moment reaches ``readiness.approval_min_cost`` (either threshold may be null = off).
The request shows crowd size, recipients, channels, segments, cost and a sample
message (rendered for nick 亲; no customer data).

Scene tasks (seed 000 业务场景玩法任务: Taobao group settings, red-packet rain,
dedicated customer-service messages, member-day settings): the ``scene_task``
strategies; dacu can only remind, link to the back office and record who
confirmed and when (``readiness_confirmations``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.engine import Engine

from dacu.dispatch.render import TemplateError, compile_template, sms_text
from dacu.dispatch.rules import MSG_CLASS
from dacu.readiness.sms import sms_segments
from dacu.readiness.util import local


@dataclass
class ApprovalRequest:
    strategy_id: str
    moment: datetime
    required: bool
    why: list[str]
    crowd: int
    recipients: int
    holdout: int
    channels: list[str]
    segments: int | None
    cost: float
    sample: str
    excluded: dict[str, int] = field(default_factory=dict)

    def subject(self, playbook: Any) -> str:
        s = playbook.strategy(self.strategy_id)
        return f"[{playbook.sale.id}] 大额发送审批 {s.name} @ {local(self.moment, playbook.tz)}"

    def body(self, playbook: Any) -> str:
        s = playbook.strategy(self.strategy_id)
        lines = [
            f"**{s.name}** (`{s.id}`, phase {s.phase}{'/' + s.wave if s.wave else ''}) at "
            f"**{local(self.moment, playbook.tz)}**",
            "",
            f"- crowd ({s.crowd.base if s.crowd else '-'}): {self.crowd:,}",
            f"- recipients (treatment): **{self.recipients:,}**, holdout {self.holdout:,}",
            f"- channels: {', '.join(self.channels)}",
        ]
        if self.segments is not None:
            lines.append(f"- SMS: {self.segments} segment(s) per message, estimated cost **{self.cost:,.2f} yuan**")
        if self.excluded:
            lines.append("- excluded: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.excluded.items()) if v))
        lines += ["", "Why approval: " + "; ".join(self.why), "", "Sample message:", "", f"> {self.sample}"]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {"strategy_id": self.strategy_id, "moment": self.moment.isoformat(), "required": self.required,
                "why": self.why, "crowd": self.crowd, "recipients": self.recipients, "holdout": self.holdout,
                "channels": self.channels, "segments": self.segments, "cost": round(self.cost, 2),
                "sample": self.sample}


def approval_request(engine: Engine, playbook: Any, strategy_id: str, moment: datetime) -> ApprovalRequest:
    """The figures a person needs to approve one send; ``required`` says whether the thresholds ask for it."""
    from dacu.crowds import GateEvaluator
    from dacu.crowds.holdout import split_holdout

    s = playbook.strategy(strategy_id)
    if s.crowd is None or not s.channels:
        raise ValueError(f"strategy {strategy_id} is a {s.kind}: nothing is sent, nothing to approve")
    cfg = playbook.readiness
    ev = GateEvaluator(engine, playbook, moment)
    comp, eligible, excluded = ev.eligible(s.crowd, s.channels)
    treatment, holdout = split_holdout(playbook.sale.id, eligible, float(s.holdout_pct or 0))
    sample, segments, cost = "", None, 0.0
    try:
        template = compile_template(playbook, s, link_base=cfg.link_base)
        body = template.render(None)
        sms = playbook.channels.sms
        if "sms" in s.channels and sms is not None:
            sample = sms_text(body, signature=sms.signature, unsubscribe=sms.unsubscribe_suffix,
                              msg_class=MSG_CLASS[s.kind])
            segments = sms_segments(sample)
            sms_ok = len(ev.eligible(s.crowd, ["sms"])[1] & set(treatment))
            cost = sms_ok * segments * sms.unit_price
        else:
            sample = body
    except (TemplateError, KeyError) as exc:
        sample = f"(template cannot be rendered: {exc})"
    why = []
    if cfg.approval_min_recipients is not None and len(treatment) >= cfg.approval_min_recipients:
        why.append(f"{len(treatment):,} recipients >= readiness.approval_min_recipients={cfg.approval_min_recipients:,}")
    if cfg.approval_min_cost is not None and cost >= cfg.approval_min_cost:
        why.append(f"cost {cost:,.2f} yuan >= readiness.approval_min_cost={cfg.approval_min_cost:,.2f}")
    return ApprovalRequest(s.id, moment, bool(why), why, len(comp.crowd), len(treatment), len(holdout),
                           list(s.channels), segments, cost, sample, dict(excluded))


@dataclass(frozen=True)
class SceneTask:
    strategy_id: str
    name: str
    scene: str
    phase: str
    wave: str | None
    description: str
    link: str | None
    moments: tuple[datetime, ...]
    source: str

    def subject(self, playbook: Any, moment: datetime | None = None) -> str:
        when = local(moment or self.moments[0], playbook.tz) if (moment or self.moments) else ""
        return f"[{playbook.sale.id}] 场景任务 {self.name} {when}".strip()

    def body(self) -> str:
        lines = [f"**{self.name}** (`{self.strategy_id}`, scene {self.scene}, phase {self.phase}"
                 f"{'/' + self.wave if self.wave else ''})", "", self.description or "-", ""]
        lines.append(f"Back office: {self.link}" if self.link else "Back office: (no link in the playbook)")
        if self.source:
            lines += ["", f"Source: {self.source}"]
        lines += ["", "Confirm **Done** once it is configured; **Not done** records that it is still open."]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {"strategy_id": self.strategy_id, "name": self.name, "scene": self.scene, "phase": self.phase,
                "wave": self.wave, "link": self.link, "moments": [m.isoformat() for m in self.moments]}


def scene_tasks(playbook: Any, phase_id: str | None = None, day: date | None = None) -> list[SceneTask]:
    """The playbook's scene tasks (of a phase; due on a sale-local day), in file order."""
    out = []
    for s in playbook.strategies:
        if s.kind != "scene_task" or (phase_id is not None and s.phase != phase_id):
            continue
        moments = tuple(s.moments_on(day) if day is not None else s.moments())
        if day is not None and not moments:
            continue
        out.append(SceneTask(s.id, s.name, s.scene, s.phase, s.wave, s.description, s.link, moments, s.source))
    return out
