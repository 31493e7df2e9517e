"""A gate's verdict: pass / warn / fail, the reasons, and the strategies it blocks."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

STATUSES = ("pass", "warn", "fail")
_RANK = {s: i for i, s in enumerate(STATUSES)}

# Gate names, in report order (also the ``gate`` column of readiness_results).
HISTORY = "history"
COUPONS = "coupons"
BUDGET = "budget"
SMS_LINT = "sms_lint"
CARRIERS = "carriers"
LOWEST_PRICE = "lowest_price"
GATES: tuple[str, ...] = (HISTORY, COUPONS, BUDGET, SMS_LINT, CARRIERS, LOWEST_PRICE)


class ReadinessConfigError(ValueError):
    """The playbook or a file it names cannot be used by a gate; the message names the field or line."""


def worst(*statuses: str) -> str:
    return max(statuses, key=_RANK.__getitem__, default="pass")


@dataclass
class GateResult:
    """One gate at one check moment. ``reasons`` are lines for a person (no personal data);
    ``blocked`` maps a strategy id to why it must not send."""
    gate: str
    status: str = "pass"
    reasons: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)

    def warn(self, reason: str) -> None:
        self.status = worst(self.status, "warn")
        self.reasons.append(reason)

    def fail(self, reason: str) -> None:
        self.status = "fail"
        self.reasons.append(reason)

    def block(self, strategy_id: str, reason: str) -> None:
        # a strategy blocked twice by one gate keeps both reasons
        prior = self.blocked.get(strategy_id)
        self.blocked[strategy_id] = reason if prior is None or reason in prior else f"{prior}; {reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"gate": self.gate, "status": self.status, "reasons": list(self.reasons),
                "details": self.details, "blocked": dict(self.blocked)}


def to_utc_naive(moment: datetime) -> datetime:
    """Aware -> naive UTC (the warehouse convention); a naive moment is refused."""
    if moment.tzinfo is None:
        raise ValueError(f"check moment {moment.isoformat()} has no timezone")
    return moment.astimezone(UTC).replace(tzinfo=None)
