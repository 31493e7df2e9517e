"""Run the readiness gates for one sale at one check moment, record them, and report."""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from dacu.readiness.result import (
    BUDGET, CARRIERS, COUPONS, GATES, HISTORY, LOWEST_PRICE, SMS_LINT, GateResult, worst,
)
from dacu.readiness.util import local

log = logging.getLogger(__name__)
GATEWAY_ENV = "DACU_GATEWAY_URL"


def make_probe(url: str | None = None):
    """An HTTP probe for ``url``, else ``$DACU_GATEWAY_URL``; None when neither is set."""
    from dacu.readiness.gateway import HttpChannelProbe

    url = url or os.environ.get(GATEWAY_ENV) or None
    return HttpChannelProbe(url) if url else None


def run_gate(gate: str, engine: Engine, playbook: Any, at: datetime, *, probe=None,
             sleep: Callable[[float], None] | None = None) -> GateResult:
    """One gate's result (not recorded). A gate that crashes on bad data reports fail, not a traceback."""
    from dacu.readiness.budget import check_budget
    from dacu.readiness.carriers import check_carriers
    from dacu.readiness.coupons import check_coupons
    from dacu.readiness.history import check_history
    from dacu.readiness.lowest_price import check_lowest_price
    from dacu.readiness.sms import check_sms_lint

    if at.tzinfo is None:
        raise ValueError("the check moment needs a timezone")
    if gate == HISTORY:
        return check_history(engine, playbook, at)
    if gate == COUPONS:
        return check_coupons(engine, playbook, at)
    if gate == BUDGET:
        return check_budget(engine, playbook, at, probe)
    if gate == SMS_LINT:
        return check_sms_lint(playbook)
    if gate == CARRIERS:
        kwargs = {"sleep": sleep} if sleep is not None else {}
        return check_carriers(playbook, at, probe, **kwargs)
    if gate == LOWEST_PRICE:
        return check_lowest_price(engine, playbook, at)
    raise ValueError(f"unknown readiness gate {gate!r} (gates: {', '.join(GATES)})")


@dataclass
class ReadinessReport:
    sale_id: str
    at: datetime
    results: list[GateResult]
    blocked: dict[str, str] = field(default_factory=dict)
    recorded: bool = False

    @property
    def status(self) -> str:
        return worst(*(r.status for r in self.results))

    def as_dict(self) -> dict[str, Any]:
        return {"sale_id": self.sale_id, "at": self.at.isoformat(), "status": self.status,
                "recorded": self.recorded, "gates": [r.as_dict() for r in self.results], "blocked": self.blocked}


def run_checks(engine: Engine, playbook: Any, at: datetime, *, gates: Iterable[str] = GATES, probe=None,
               record: bool = True, sleep: Callable[[float], None] | None = None) -> ReadinessReport:
    """Run ``gates`` at ``at`` (aware); with ``record`` write each result (idempotent per moment).

    ``blocked`` is what these results block; with ``record`` it is the table's view
    (``blocked_strategies``), which also counts gates run at other moments.
    """
    from dacu.readiness.store import blocked_strategies, write_result

    results = []
    for gate in gates:
        res = run_gate(gate, engine, playbook, at, probe=probe, sleep=sleep)
        log.info("readiness %s %s at %s: %s",
                gate, res.status.upper(), local(at, playbook.tz), " | ".join(res.reasons))
        if record:
            write_result(engine, playbook.sale.id, at, res)
        results.append(res)
    if record:
        blocked = blocked_strategies(engine, playbook, at)
    else:
        blocked = {}
        for r in results:
            for sid, reason in r.blocked.items():
                text = f"readiness gate {r.gate}: {reason}"
                blocked[sid] = f"{blocked[sid]}; {text}" if sid in blocked else text
    return ReadinessReport(playbook.sale.id, at, results, blocked, record)


_MARK = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}


def format_report(report: ReadinessReport, playbook: Any) -> str:
    lines = [f"Readiness of {playbook.sale.name} ({report.sale_id}) at {local(report.at, playbook.tz)} "
             f"{playbook.sale.timezone}: {report.status.upper()}", ""]
    for r in report.results:
        lines.append(f"  {_MARK[r.status]}  {r.gate}")
        for reason in r.reasons:
            lines.append(f"        - {reason}")
    lines.append("")
    if report.blocked:
        lines.append(f"Strategies skipped until fixed ({len(report.blocked)}):")
        for sid, reason in sorted(report.blocked.items()):
            lines.append(f"  {sid}: {reason}")
    else:
        lines.append("No strategy is blocked.")
    return "\n".join(lines) + "\n"
