"""The readiness table: write a gate's result idempotently; read the latest; the blocked strategies."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from dacu.readiness.result import GateResult, to_utc_naive
from dacu.warehouse.sqlfiles import sql


def write_result(engine: Engine, sale_id: str, at: datetime, result: GateResult) -> None:
    """Replace the row (sale, gate, check moment) in one transaction."""
    key = {"sale_id": sale_id, "gate": result.gate, "check_at": to_utc_naive(at)}
    row = {**key, "status": result.status,
           "reasons": json.dumps(result.reasons, ensure_ascii=False),
           "details": json.dumps(result.details, ensure_ascii=False, default=str, sort_keys=True),
           "blocked": json.dumps(result.blocked, ensure_ascii=False, sort_keys=True)}
    with engine.begin() as conn:
        conn.execute(sql("readiness/result_delete"), key)
        conn.execute(sql("readiness/result_insert"), row)


def latest_results(engine: Engine, sale_id: str, at: datetime) -> list[dict[str, Any]]:
    """Each gate's latest result at or before ``at`` (aware)."""
    with engine.connect() as conn:
        rows = conn.execute(sql("readiness/result_latest"), {"sale_id": sale_id, "at": to_utc_naive(at)}).all()
    out = []
    for gate, check_at, status, reasons, details, blocked in rows:
        if isinstance(check_at, str):       # SQLite through text() may hand back strings
            check_at = datetime.fromisoformat(check_at)
        out.append({"gate": gate, "check_at": check_at.replace(tzinfo=UTC), "status": status,
                    "reasons": json.loads(reasons), "details": json.loads(details), "blocked": json.loads(blocked)})
    return out


def blocked_strategies(engine: Engine, playbook: Any, at: datetime) -> dict[str, str]:
    """strategy_id -> reason, from every gate's latest result at or before ``at``.

    A strategy blocked by several gates gets their reasons joined; a gate whose
    newer result no longer blocks it releases it.
    """
    known = {s.id for s in playbook.strategies}
    out: dict[str, str] = {}
    for row in latest_results(engine, playbook.sale.id, at):
        stamp = row["check_at"].astimezone(playbook.tz).strftime("%Y-%m-%d %H:%M")
        for sid, reason in row["blocked"].items():
            if sid not in known:
                continue
            text = f"readiness gate {row['gate']} ({row['status']} at {stamp}): {reason}"
            out[sid] = f"{out[sid]}; {text}" if sid in out else text
    return out


def record_confirmation(engine: Engine, sale_id: str, kind: str, item_id: str, moment: datetime, decision: str,
                        responded_by: str | None, responded_at: datetime | None, detail: dict[str, Any]) -> None:
    """Who answered an approval or scene task, and when (replaces the same key)."""
    key = {"sale_id": sale_id, "kind": kind, "item_id": item_id, "moment": to_utc_naive(moment)}
    row = {**key, "decision": decision, "responded_by": responded_by,
           "responded_at": to_utc_naive(responded_at) if responded_at else None,
           "detail": json.dumps(detail, ensure_ascii=False, default=str, sort_keys=True)}
    with engine.begin() as conn:
        conn.execute(sql("readiness/confirmation_delete"), key)
        conn.execute(sql("readiness/confirmation_insert"), row)


def confirmations(engine: Engine, sale_id: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sql("readiness/confirmations"), {"sale_id": sale_id}).mappings().all()
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]
