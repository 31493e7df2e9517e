"""Strategy tasks per phase: crowd size, holdout, sent / skipped by reason / failed, cost, goal metric.

Reads the per-run summaries only: ``segment_runs`` (one row per strategy and gate
run) and ``warroom_dispatch_totals`` (one row per send occasion). The goal metric
is the funnel figure of the chosen snapshot that the strategy's goal moves (our
reading, in ``GOAL_METRIC``), shown beside its peer average when there is one.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from dacu.warroom.labels import CHANNELS, GOALS, KINDS, SCENES, crowd_label, label, metric_label, reason_label
from dacu.warroom.tables import dispatch_totals
from dacu.warroom.util import as_moment, json_obj, plain, query, utc_naive

# goal -> (snapshot metric, crowd) that tells whether it worked (ours; seed 000's goals name no formula).
GOAL_METRIC: dict[str, tuple[str, str]] = {
    "store_visits": ("visit_rate", "whole_store"), "presale_rate": ("visit_deposit_rate", "whole_store"),
    "cart_rate": ("visit_cart_rate", "whole_store"), "conversion": ("conversion_rate", "whole_store"),
    "member_acquisition": ("crowd_size", "members"), "revisit_rate": ("visit_rate", "old"),
    "member_seeding": ("visit_rate", "members"), "fan_seeding": ("visit_rate", "fans"),
    "promo_seeding": ("cart_buyers", "whole_store"), "presale_seeding": ("deposit_buyers", "whole_store"),
    "old_customer_retention": ("conversion_rate", "old"), "payment_rate": ("deposit_balance_rate", "whole_store"),
    "recruiting": ("crowd_size", "new"),
}


def _latest_segments(engine: Engine, sale_id: str, at: datetime) -> dict[str, dict]:
    out: dict[str, dict] = {}
    with engine.connect() as conn:
        for r in conn.execute(query("warroom/segment_latest"), {"sale_id": sale_id, "at": utc_naive(at)}).mappings():
            out[r["strategy_id"]] = dict(r)      # ties on as_of: the last run_key wins (rows are ordered)
    return out


def _totals(engine: Engine, sale_id: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    if not inspect(engine).has_table(dispatch_totals.name):
        return out
    with engine.connect() as conn:
        for r in conn.execute(query("warroom/dispatch_totals_sale"), {"sale_id": sale_id}).mappings():
            out.setdefault(r["strategy_id"], []).append(dict(r))
    return out


def _dispatch(rows: list[dict], run_key: str | None) -> dict[str, Any]:
    """The latest run's occasion(s) and the strategy's totals over the whole sale so far."""
    def tally(sel: list[dict]) -> dict[str, Any]:
        skipped: dict[str, int] = {}
        for r in sel:
            for k, v in json_obj(r["skipped"]).items():
                skipped[k] = skipped.get(k, 0) + int(v)
        return {"sent": sum(int(r["sent"]) for r in sel), "failed": sum(int(r["failed"]) for r in sel),
                "held": sum(int(r["held"]) for r in sel), "holdout": sum(int(r["holdout"]) for r in sel),
                "pending": sum(int(r["pending"]) for r in sel), "dry_run": sum(int(r["dry_run"]) for r in sel),
                "delivered": sum(int(r["delivered"]) for r in sel),
                "cost": round(sum(float(r["cost"]) for r in sel), 2),
                "skipped": {k: v for k, v in sorted(skipped.items(), key=lambda kv: -kv[1]) if v},
                "skipped_total": sum(skipped.values()),
                "skipped_labels": {k: reason_label(k) for k in skipped}}
    latest = [r for r in rows if run_key is not None and r["run_key"] == run_key]
    return {"latest": tally(latest) if latest else None, "sale": tally(rows) if rows else None,
            "occasions": len(rows)}


def _goal(strategy: Any, metrics: dict[str, Any] | None) -> dict[str, Any]:
    goal = strategy.goal
    out = {"goal": goal, "label": label(GOALS, goal), "metric": None}
    if goal not in GOAL_METRIC or not metrics or not metrics.get("found"):
        return out
    metric, crowd = GOAL_METRIC[goal]
    row = next((c for c in metrics["crowds"] if c["crowd"] == crowd), None)
    if row is None:
        return out
    out["metric"] = {"name": metric, "label": metric_label(metric), "crowd": crowd, "crowd_label": crowd_label(crowd),
                     "value": row["all"].get(metric), "peer": row["peers"].get(metric),
                     "kind": "rate" if metric.endswith("_rate") else "count"}
    return out


def strategy_tasks(engine: Engine, playbook: Any, now: datetime,
                   metrics: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Per phase, its crowd strategies (file order) with their latest segment run at ``now`` and its sends;
    ``metrics`` is the page's chosen snapshot (``crowd_metrics``), for the goal metric."""
    sale_id = playbook.sale.id
    segments = _latest_segments(engine, sale_id, now)
    totals = _totals(engine, sale_id)
    phases = []
    for phase in playbook.phases:
        rows = []
        for s in playbook.strategies_in(phase.id):
            if s.kind == "scene_task":
                continue
            seg = segments.get(s.id)
            segment = None
            if seg is not None:
                excluded = {k: int(v) for k, v in json_obj(seg["excluded"]).items() if int(v)}
                segment = {"run_key": seg["run_key"], "as_of": as_moment(seg["as_of"]).astimezone(playbook.tz).isoformat(),
                           "wave": seg["wave"], "runs": int(seg["runs"]), "crowd_size": int(seg["crowd_size"]),
                           "treatment": int(seg["treatment"]), "holdout": int(seg["holdout"]),
                           "holdout_pct": plain(seg["holdout_pct"]), "excluded": excluded,
                           "excluded_labels": {k: reason_label(k) for k in excluded}, "warning": seg["warning"]}
            goal = _goal(s, metrics)
            rows.append({
                "id": s.id, "name": s.name, "scene": s.scene, "scene_label": label(SCENES, s.scene),
                "kind": s.kind, "kind_label": label(KINDS, s.kind), "wave": s.wave,
                "channels": list(s.channels), "channel_labels": [label(CHANNELS, c) for c in s.channels],
                "holdout_pct": s.holdout_pct, "goal": goal, "segment": segment,
                "dispatch": _dispatch(totals.get(s.id, []), seg["run_key"] if seg else None),
            })
        phases.append({"id": phase.id, "name": phase.name, "dag_id": f"{sale_id}__{phase.id}", "strategies": rows})
    return phases
