"""Core metrics per crowd for a day or range beside the peer averages, and the chart series.

Reads the published snapshots only (``metric_snapshots``, ``metric_warmup_daily``,
``peer_benchmarks``): their size grows with days and crowds, never with customers.
A range shows the snapshot computed for exactly that range (distinct customers do
not add up across days); the page offers the ranges that exist.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.engine import Engine

from dacu.metrics.definitions import CROWDS, PEER_SOURCES, metric_names
from dacu.metrics.peers import WARMUP_INDEX_AXES, load_peers, warmup_index
from dacu.warroom.labels import crowd_label, metric_label
from dacu.warroom.util import as_day, plain, query

# The per-crowd columns of the metrics table, in display order; each rate beside its peer.
TABLE_METRICS = ("crowd_size", "visitors", "visit_rate", "cart_buyers", "visit_cart_rate", "deposit_buyers",
                 "paying_buyers", "paid_amount", "conversion_rate", "amount_share")
PEER_OF = {src: peer for peer, (src, _store) in PEER_SOURCES.items()}   # visit_rate -> peer_visit_rate
STORE_METRICS = ("store_paid_amount", "store_buyers", "store_visitors", "rv_start", "active_rv_start",
                 "active_rv_amount", "active_rv_value", "non_rv_value", "active_members", "active_fans_excl_members")
FUNNEL = ("visitors", "cart_buyers", "deposit_buyers", "paying_buyers")
SHARE_CROWDS = ("new", "old", "members", "fans")


def available_ranges(engine: Engine, sale_id: str) -> list[dict[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(query("warroom/snapshot_ranges"), {"sale_id": sale_id}).all()
    return [{"day_from": as_day(r.day_from).isoformat(), "day_to": as_day(r.day_to).isoformat()} for r in rows]


def pick_range(ranges: list[dict[str, str]], today: date) -> tuple[date, date] | None:
    """Default: the latest single-day snapshot on or before ``today``; else the latest range ending by then."""
    singles = [r for r in ranges if r["day_from"] == r["day_to"] and r["day_to"] <= today.isoformat()]
    pool = singles or [r for r in ranges if r["day_to"] <= today.isoformat()]
    if not pool:
        return None
    best = max(pool, key=lambda r: (r["day_to"], r["day_from"]))
    return date.fromisoformat(best["day_from"]), date.fromisoformat(best["day_to"])


def crowd_metrics(engine: Engine, sale_id: str, day_from: date, day_to: date) -> dict[str, Any]:
    """The snapshot of [day_from, day_to]: one row per crowd with peers, and the store-level figures."""
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query("warroom/snapshot_range"),
                                              {"sale_id": sale_id, "day_from": day_from, "day_to": day_to}).mappings()]
    order = {c: i for i, c in enumerate(CROWDS)}
    rows.sort(key=lambda r: order.get(r["crowd"], 99))
    crowds = []
    for r in rows:
        values = {m: plain(r.get(m)) for m in TABLE_METRICS}
        peers = {m: plain(r.get(PEER_OF[m])) for m in TABLE_METRICS if m in PEER_OF}
        every = {m: plain(r.get(m)) for m in metric_names() if m in r}
        crowds.append({"crowd": r["crowd"], "label": crowd_label(r["crowd"]), "values": values, "peers": peers,
                       "all": every})
    store = {}
    if rows:
        whole = next((r for r in rows if r["crowd"] == "whole_store"), rows[0])
        store = {m: plain(whole.get(m)) for m in STORE_METRICS}
        store["peer_active_rv_value"] = plain(whole.get("peer_active_rv_value"))
    return {"day_from": day_from.isoformat(), "day_to": day_to.isoformat(), "found": bool(rows),
            "columns": [{"name": m, "label": metric_label(m), "peer": m in PEER_OF} for m in TABLE_METRICS],
            "store_columns": [{"name": m, "label": metric_label(m)} for m in STORE_METRICS],
            "crowds": crowds, "store": store}


def funnel_trend(engine: Engine, sale_id: str, day_from: date, day_to: date, crowd: str = "whole_store") -> dict:
    """Daily funnel of one crowd over the sale's single-day snapshots in [day_from, day_to]."""
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query("warroom/snapshot_daily"),
                                              {"sale_id": sale_id, "day_from": day_from, "day_to": day_to}).mappings()
                if r["crowd"] == crowd]
    days = [as_day(r["day_from"]).isoformat() for r in rows]
    series = {m: [plain(r.get(m)) for r in rows] for m in (*FUNNEL, "paid_amount", "conversion_rate",
                                                           "peer_conversion_rate")}
    return {"crowd": crowd, "crowd_label": crowd_label(crowd), "days": days, "series": series,
            "labels": {m: metric_label(m) for m in series}}


def amount_share(metrics: dict[str, Any]) -> dict[str, Any]:
    """Share of amount per crowd (new/old/members/fans) and the peers', from the chosen snapshot.

    New + old partition the store; members and fans overlap them, so this is a bar
    chart of shares, not a pie."""
    by_crowd = {c["crowd"]: c for c in metrics["crowds"]}
    crowds = [c for c in SHARE_CROWDS if c in by_crowd]
    return {"crowds": crowds, "labels": [crowd_label(c) for c in crowds],
            "shop": [by_crowd[c]["values"]["amount_share"] for c in crowds],
            "peer": [by_crowd[c]["peers"].get("amount_share") for c in crowds],
            "amount": [by_crowd[c]["values"]["paid_amount"] for c in crowds]}


def warmup_radar(engine: Engine, sale_id: str, day_from: date, day_to: date) -> dict[str, Any]:
    """Seed 002's warm-up index per axis for new and old over [day_from, day_to] (100 = the peers)."""
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query("warroom/warmup_range"),
                                              {"sale_id": sale_id, "day_from": day_from, "day_to": day_to}).mappings()]
        peers = load_peers(conn, sale_id, day_from, day_to)
    for r in rows:
        r["metric_day"] = as_day(r["metric_day"])
    days = sorted({r["metric_day"] for r in rows})
    index = warmup_index(rows, peers, days)
    axes = list(WARMUP_INDEX_AXES)
    series = {c: [None if idx.axes[a] is None else round(idx.axes[a], 1) for a in axes] for c, idx in index.items()}
    top = max([v for vals in series.values() for v in vals if v is not None] + [100.0])
    return {"day_from": day_from.isoformat(), "day_to": day_to.isoformat(), "axes": axes,
            "axis_labels": [WARMUP_INDEX_AXES[a] for a in axes], "max": round(max(150.0, top * 1.1)),
            "series": series, "crowd_labels": {c: crowd_label(c) for c in series},
            "overall": {c: None if idx.overall is None else round(idx.overall, 1) for c, idx in index.items()},
            "days_with_peers": {c: idx.days for c, idx in index.items()}}
