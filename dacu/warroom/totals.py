"""Keeping ``warroom_dispatch_totals`` current: one row per send occasion, from the ledger.

``refresh_dispatch_totals`` reads one occasion through the ledger's
(sale, strategy, wave, state) index and replaces its row: the dispatch step calls
it after each send (and after the quiet-hours pass). ``rebuild_dispatch_totals``
regroups a whole sale's ledger once, for data sent before the totals existed.
Both are idempotent; the page reads only the totals.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, String, bindparam
from sqlalchemy.engine import Connection, Engine

from dacu.warehouse.sqlfiles import sql
from dacu.warroom.tables import init_warroom_schema

# Ledger states that mean "the task will retry these under the same keys".
_PENDING = ("reserved", "unknown")


@dataclass
class OccasionTotals:
    strategy_id: str
    wave: str
    run_key: str = ""
    sent: int = 0
    failed: int = 0
    held: int = 0
    holdout: int = 0
    pending: int = 0
    dry_run: int = 0
    delivered: int = 0
    undelivered: int = 0
    cost: float = 0.0
    skipped: Counter = field(default_factory=Counter)
    failed_by_reason: Counter = field(default_factory=Counter)

    def add(self, state: str, reason: str | None, receipt: str | None, n: int, cost: float, run_key: str) -> None:
        self.run_key = max(self.run_key, run_key or "")
        if state == "sent":
            self.sent += n
            self.cost += cost
        elif state == "failed":
            self.failed += n
            self.failed_by_reason[reason or "unknown"] += n
        elif state == "skipped":
            self.skipped[reason or "unknown"] += n
        elif state == "held":
            self.held += n
        elif state == "holdout":
            self.holdout += n
        elif state in _PENDING:
            self.pending += n
        elif state == "dry_run":
            self.dry_run += n
        if receipt == "delivered":
            self.delivered += n
        elif receipt == "failed":
            self.undelivered += n

    def row(self, sale_id: str, updated_at: datetime) -> dict[str, Any]:
        return {"sale_id": sale_id, "strategy_id": self.strategy_id, "wave": self.wave, "run_key": self.run_key,
                "sent": self.sent, "failed": self.failed, "held": self.held, "holdout": self.holdout,
                "pending": self.pending, "dry_run": self.dry_run, "delivered": self.delivered,
                "undelivered": self.undelivered,
                "skipped": json.dumps(dict(sorted(self.skipped.items())), ensure_ascii=False),
                "failed_by_reason": json.dumps(dict(sorted(self.failed_by_reason.items())), ensure_ascii=False),
                "cost": round(self.cost, 4), "updated_at": updated_at}


def _utc_naive(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("the refresh time must be timezone-aware (the run's time, not the wall clock)")
    return at.astimezone(UTC).replace(tzinfo=None)


def _insert(conn: Connection, rows: list[dict]) -> None:
    if rows:
        stmt = sql("warroom/dispatch_totals_insert").bindparams(bindparam("updated_at", type_=DateTime()))
        conn.execute(stmt, rows)


def refresh_dispatch_totals(engine: Engine, sale_id: str, strategy_id: str, wave: str, at: datetime) -> dict:
    """Recount one send occasion from the ledger and replace its totals row; returns the row."""
    init_warroom_schema(engine)
    key = {"sale_id": sale_id, "strategy_id": strategy_id, "wave": wave}
    totals = OccasionTotals(strategy_id, wave)
    with engine.begin() as conn:
        for r in conn.execute(sql("warroom/ledger_occasion_counts"), key):
            totals.add(r.state, r.reason, r.receipt, int(r.n), float(r.cost or 0), r.run_key)
        conn.execute(sql("warroom/dispatch_totals_delete"), key)
        row = totals.row(sale_id, _utc_naive(at))
        if totals.run_key:             # an occasion with no ledger row keeps no totals row
            _insert(conn, [row])
    return row


def rebuild_dispatch_totals(engine: Engine, sale_id: str, at: datetime) -> int:
    """Regroup the sale's whole ledger into totals rows (one transaction); returns the row count."""
    init_warroom_schema(engine)
    by_occasion: dict[tuple[str, str], OccasionTotals] = {}
    stamp = _utc_naive(at)
    with engine.begin() as conn:
        stmt = sql("warroom/ledger_sale_counts").bindparams(bindparam("sale_id", type_=String()))
        for r in conn.execute(stmt, {"sale_id": sale_id}):
            t = by_occasion.setdefault((r.strategy_id, r.wave), OccasionTotals(r.strategy_id, r.wave))
            t.add(r.state, r.reason, r.receipt, int(r.n), float(r.cost or 0), r.run_key)
        conn.execute(sql("warroom/dispatch_totals_delete_sale"), {"sale_id": sale_id})
        _insert(conn, [t.row(sale_id, stamp) for t in by_occasion.values()])
    return len(by_occasion)
