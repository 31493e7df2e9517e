"""The segment step of a strategy: evaluate its crowd at the gate moment and freeze it.

``segment_strategy`` is the single entry point the Airflow operator wraps;
``segment_gate`` segments several strategies of one gate with one shared
``GateEvaluator`` so each distinct crowd is read once per gate.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from dacu.crowds.bounds import CrowdContext, CrowdError
from dacu.crowds.evaluate import GateEvaluator, crowd_expr, crowd_part, sale_context
from dacu.crowds.features import data_mark, ensure_base, ensure_part
from dacu.crowds.holdout import HOLDOUT_SALT, readability_warning, split_holdout
from dacu.crowds.snapshot import SegmentResult, write_segment_snapshot

log = logging.getLogger(__name__)


def _strategy(playbook: Any, strategy_id: str) -> Any:
    strategy = playbook.strategy(strategy_id)
    if getattr(strategy, "crowd", None) is None:
        raise CrowdError(f"strategy {strategy_id} has no crowd (kind {getattr(strategy, 'kind', '?')})")
    if not getattr(strategy, "channels", None):
        raise CrowdError(f"strategy {strategy_id} has no channels")
    return strategy


def segment_strategy(engine: Engine, playbook: Any, strategy_id: str, as_of: datetime, run_key: str, *,
                     evaluator: GateEvaluator | None = None, salt: str = HOLDOUT_SALT) -> SegmentResult:
    """Evaluate the strategy's crowd as of ``as_of`` (aware gate moment), apply the channel
    exclusions, split the holdout and replace the snapshot of (sale, strategy, run_key)."""
    strategy = _strategy(playbook, strategy_id)
    ev = evaluator or GateEvaluator(engine, playbook, as_of)
    if ev.ctx.as_of != as_of:
        raise ValueError("the evaluator belongs to another gate moment")
    expr = crowd_expr(strategy.crowd)
    comp, eligible, excluded = ev.eligible(expr, strategy.channels)
    return write_segment_snapshot(
        engine, ev.ctx.sale_id, strategy.id, getattr(strategy, "wave", None), run_key, as_of, eligible,
        float(getattr(strategy, "holdout_pct", 0) or 0), crowd_size=len(comp.crowd), excluded_by_reason=excluded,
        channels=strategy.channels, crowd_expr_json=expr.to_json(), salt=salt)


def segment_gate(engine: Engine, playbook: Any, strategy_ids: Iterable[str], as_of: datetime,
                 run_key: str) -> dict[str, SegmentResult]:
    """Segment every strategy of one gate, sharing crowd evaluations."""
    ev = GateEvaluator(engine, playbook, as_of)
    ids = list(strategy_ids)
    refs = []
    for sid in ids:
        e = crowd_expr(_strategy(playbook, sid).crowd)
        refs += [e.base, *e.intersect, *e.exclude]
    ev.prefetch(refs)                  # the simple feature crowds of all strategies in one pass
    return {sid: segment_strategy(engine, playbook, sid, as_of, run_key, evaluator=ev) for sid in ids}


def prepare_crowd_day(engine: Engine, playbook: Any, strategy_ids: Iterable[str], moment: datetime) -> dict[str, Any]:
    """Build the day's crowd features before its first gate: the base layer of the sale-local day
    of ``moment`` (aware) and the history parts (features.part_plan) of the crowds of
    ``strategy_ids``. Both depend on the day only, so every gate of the day reuses them; a segment
    task that finds them missing (a new import changed the data mark) builds them itself.
    Returns counts for XCom."""
    s = sale_context(playbook)
    ctx = CrowdContext(s.sale_id, s.reference_day, s.tz, moment)
    with engine.connect() as conn:
        mark = data_mark(conn)
    base = ensure_base(engine, ctx, mark=mark)
    parts = {}
    for sid in strategy_ids:
        e = crowd_expr(_strategy(playbook, sid).crowd)
        for ref in (e.base, *e.intersect, *e.exclude):
            if (part := crowd_part(ref, ctx)) is not None:
                parts[part.layer] = part
    built = [ensure_part(engine, ctx, part, mark=mark) for part in parts.values()]
    return {"day": ctx.local_day.isoformat(), "base_rows": base.rows, "base_built": base.built,
            "base_seconds": round(base.seconds, 2), "parts": len(built), "parts_built": sum(b.built for b in built),
            "part_rows": sum(b.rows for b in built), "part_seconds": round(sum(b.seconds for b in built), 2)}


@dataclass
class SegmentPreview:
    crowd: int
    treatment: int
    holdout: int
    excluded_by_reason: dict[str, int]
    sample: list[str]                 # up to 5 treated customer ids (sorted), for a masked look
    warning: str | None

    def as_dict(self) -> dict:
        return {"crowd": self.crowd, "treatment": self.treatment, "holdout": self.holdout,
                "excluded_by_reason": self.excluded_by_reason, "warning": self.warning}


def preview_strategy(engine: Engine, playbook: Any, strategy_id: str, as_of: datetime,
                     salt: str = HOLDOUT_SALT) -> SegmentPreview:
    """What ``segment_strategy`` would select, without writing anything (it uses the gate's
    feature table only if a current build exists, else the reference SQL)."""
    strategy = _strategy(playbook, strategy_id)
    ev = GateEvaluator(engine, playbook, as_of, features="reuse")
    comp, eligible, excluded = ev.eligible(strategy.crowd, strategy.channels)
    pct = float(getattr(strategy, "holdout_pct", 0) or 0)
    treatment, holdout = split_holdout(ev.ctx.sale_id, eligible, pct, salt)
    return SegmentPreview(len(comp.crowd), len(treatment), len(holdout), excluded, treatment[:5],
                          readability_warning(len(treatment), len(holdout), pct))
