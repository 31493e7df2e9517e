"""Gate 3: the SMS balance covers the remaining SMS sends (seed 004 充值: 兵马未动粮草先行).

Estimate per strategy that sends SMS and still has moments at or after the check:
recipients = its crowd's treatment group (eligible for SMS, holdout removed) as of
the check moment; sends = recipients x remaining moments, capped by the strategy's
``caps.per_customer_per_sale`` (payment reminders: 2 per sale, seed 004); cost =
sends x billed segments of its longest text (variables at maximum length, see
``sms.py``) x ``channels.sms.unit_price``. The crowd of a later moment is read as
of now: the figure is an estimate, and an upper bound on text length.

The balance comes from the channel gateway. Short -> fail, and the strategies the
balance cannot cover (taken in the order of their next moment) are blocked; under
``readiness.budget_margin_pct`` of headroom -> warn.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from dacu.dispatch.render import TemplateError
from dacu.dispatch.rules import REMINDERS_PER_SALE
from dacu.readiness.gateway import ChannelProbe, ProbeError
from dacu.readiness.result import BUDGET, GateResult
from dacu.readiness.sms import longest_text, sms_segments
from dacu.readiness.util import local


@dataclass
class SendEstimate:
    strategy_id: str
    next_moment: datetime
    moments: int             # remaining moments
    recipients: int          # treatment group on SMS, as of the check
    sends: int
    segments: int
    cost: float              # yuan, all remaining moments
    cost_per_moment: float

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["next_moment"] = self.next_moment.isoformat()
        d["cost"] = round(self.cost, 2)
        d["cost_per_moment"] = round(self.cost_per_moment, 2)
        return d


def estimate_sms(engine: Engine, playbook: Any, at: datetime,
                 strategy_ids: list[str] | None = None) -> tuple[list[SendEstimate], list[str]]:
    """Estimates of remaining SMS sends (in next-moment order), and problems (one line each)."""
    from dacu.crowds import CrowdError, GateEvaluator
    from dacu.crowds.holdout import split_holdout

    sms = playbook.channels.sms
    unit = sms.unit_price if sms is not None else 0.0
    evaluator = GateEvaluator(engine, playbook, at)
    out: list[SendEstimate] = []
    problems: list[str] = []
    for s in playbook.strategies:
        if strategy_ids is not None and s.id not in strategy_ids:
            continue
        if "sms" not in s.channels or s.crowd is None or s.material is None:
            continue
        moments = [m for m in s.moments() if m >= at]
        if not moments:
            continue
        try:
            segments = sms_segments(longest_text(playbook, s))
        except (TemplateError, KeyError) as exc:
            problems.append(f"{s.id}: template cannot be rendered ({exc})")
            continue
        try:
            _, eligible, _ = evaluator.eligible(s.crowd, ["sms"])
        except CrowdError as exc:
            problems.append(f"{s.id}: crowd cannot be evaluated ({exc})")
            continue
        treatment, _ = split_holdout(playbook.sale.id, eligible, float(s.holdout_pct or 0))
        recipients = len(treatment)
        per_customer = len(moments)
        cap = s.caps.per_customer_per_sale if s.caps is not None else None
        if s.kind == "payment_reminder":
            cap = min(cap, REMINDERS_PER_SALE) if cap is not None else REMINDERS_PER_SALE
        if cap is not None:
            per_customer = min(per_customer, cap)
        sends = recipients * per_customer
        cost = sends * segments * unit
        out.append(SendEstimate(s.id, moments[0], len(moments), recipients, sends, segments, cost,
                                recipients * segments * unit))
    out.sort(key=lambda e: (e.next_moment, e.strategy_id))
    return out, problems


def check_budget(engine: Engine, playbook: Any, at: datetime, probe: ChannelProbe | None) -> GateResult:
    res = GateResult(BUDGET)
    cfg = playbook.readiness
    sms = playbook.channels.sms
    estimates, problems = estimate_sms(engine, playbook, at)
    total = sum(e.cost for e in estimates)
    res.details.update(estimated_cost=round(total, 2), strategies=[e.as_dict() for e in estimates],
                       unit_price=sms.unit_price if sms else None)
    for p in problems:
        res.warn(f"not estimated: {p}")
    if not estimates:
        res.reasons.insert(0, "no SMS send left in the sale")
        return res
    if sms is None:
        res.fail("channels.sms is not set: no unit price to estimate the SMS cost")
        return res
    if probe is None:
        res.warn(f"estimated SMS cost {total:,.2f} yuan; balance not checked: no channel gateway configured "
                 "(--gateway-url / DACU_GATEWAY_URL)")
        return res
    try:
        balance = probe.balance()
    except ProbeError as exc:
        res.fail(f"cannot read the SMS balance: {exc}")
        for e in estimates:
            res.block(e.strategy_id, "SMS balance unknown (gateway unreachable)")
        return res
    res.details["balance"] = round(balance, 2)
    need = total * (1 + cfg.budget_margin_pct / 100)
    if balance < total:
        res.fail(f"SMS balance {balance:,.2f} yuan < estimated cost {total:,.2f} yuan of "
                 f"{sum(e.sends for e in estimates):,} sends: top up at least {math.ceil(total - balance):,} yuan")
        running = 0.0
        for e in estimates:
            running += e.cost
            if running > balance:
                res.block(e.strategy_id, f"SMS balance {balance:,.2f} yuan does not cover this send "
                                         f"(cumulative {running:,.2f} yuan from {local(e.next_moment, playbook.tz)})")
    elif balance < need:
        res.warn(f"SMS balance {balance:,.2f} yuan covers the estimated {total:,.2f} yuan with less than "
                 f"readiness.budget_margin_pct={cfg.budget_margin_pct}% headroom (want {need:,.2f})")
    else:
        res.reasons.append(f"SMS balance {balance:,.2f} yuan covers the estimated {total:,.2f} yuan "
                           f"+ {cfg.budget_margin_pct}%")
    return res
