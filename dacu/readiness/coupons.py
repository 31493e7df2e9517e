"""Gate 2: every coupon a remaining strategy uses is issued before its deadline (seed 004:
the platform blocks creating and sending coupons during the sale; 提前发送 x3).

A coupon counts as issued when the warehouse's ``coupons`` row (imported from the
platform's export) has ``issued_at`` at or before the check moment. Not issued:
- after ``issue_deadline``: fail, and every remaining strategy using it is blocked;
- within ``readiness.coupon_warn_days`` of the deadline: warn;
- earlier: pending (pass, listed in the details).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from dacu.readiness.result import COUPONS, GateResult, to_utc_naive
from dacu.readiness.util import local, parse_db_time
from dacu.warehouse.sqlfiles import sql


def coupon_users(playbook: Any, at: datetime) -> dict[str, list[str]]:
    """coupon id -> ids of strategies that use it and still have a moment at or after ``at``."""
    out: dict[str, list[str]] = {}
    for s in playbook.strategies:
        if s.material is not None and s.material.coupon and any(m >= at for m in s.moments()):
            out.setdefault(s.material.coupon, []).append(s.id)
    return out


def check_coupons(engine: Engine, playbook: Any, at: datetime) -> GateResult:
    res = GateResult(COUPONS)
    tz = playbook.tz
    known = {c.id: c for c in playbook.coupons}
    users = coupon_users(playbook, at)
    for i, s in enumerate(playbook.strategies):
        if s.material is not None and s.material.coupon and s.material.coupon not in known:
            res.fail(f"strategies[{i}].material.coupon: {s.material.coupon!r} is not a coupon of the playbook")
            res.block(s.id, f"unknown coupon {s.material.coupon}")
    with engine.connect() as conn:
        issued = {str(cid): parse_db_time(t) for cid, t in conn.execute(sql("readiness/coupons_issued")).all()}
    at_utc = to_utc_naive(at)
    warn_window = timedelta(days=playbook.readiness.coupon_warn_days)
    state: dict[str, str] = {}
    for cid in sorted(users):
        coupon = known.get(cid)
        if coupon is None:
            continue
        when = issued.get(cid)
        if when is not None and when <= at_utc:
            state[cid] = "issued"
            continue
        deadline = coupon.issue_deadline
        strategies = ", ".join(users[cid])
        missing = "not in the warehouse" if cid not in issued else "not issued"
        if at > deadline:
            state[cid] = "overdue"
            res.fail(f"coupon {cid} ({coupon.name}) {missing}; its issue_deadline {local(deadline, tz)} has passed "
                     f"(used by {strategies})")
            for sid in users[cid]:
                res.block(sid, f"coupon {cid} not issued by its deadline {local(deadline, tz)}")
        elif at >= deadline - warn_window:
            left = deadline - at
            state[cid] = "due_soon"
            res.warn(f"coupon {cid} ({coupon.name}) {missing}; issue_deadline {local(deadline, tz)} is in "
                     f"{left.days} d {left.seconds // 3600} h (used by {strategies})")
        else:
            state[cid] = "pending"
    res.details["coupons"] = state
    if not res.reasons:
        done = sum(1 for v in state.values() if v == "issued")
        res.reasons.append(f"{done} of {len(state)} coupon(s) in use issued; none due within "
                           f"{playbook.readiness.coupon_warn_days} d")
    return res
