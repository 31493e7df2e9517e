"""Peer averages (同行同层) beside the shop's figures, and seed 002's warm-up index against them.

``peer_benchmarks`` holds one value per (sale, day, crowd, metric), imported by
``dacu data import-peers`` (dacu.ingest.peers). A snapshot metric's peer is the
value of the same day, crowd and metric code; a store-level metric without a
value for the row's crowd falls back to the ``whole_store`` value. The warm-up
view's cart and buyer counts share their definitions with the snapshot's
``cart_buyers`` / ``paying_buyers``, so either code serves as their peer.

Warm-up index (预热指数, ours; docs/metrics.md): per crowd (new, old) and axis
(visitors, favourites, carts, coupon claims, buyers) over the warm-up days
that have both a published warm-up row and a peer value,

    index = 100 × Σ shop value / Σ peer value        (100 = level with the peers)

and the crowd's overall index is the mean of its available axes. The daily
index is the same ratio for one day, averaged over the axes.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Date, String, bindparam
from sqlalchemy.engine import Connection

from dacu.metrics.definitions import BY_NAME
from dacu.warehouse.sqlfiles import sql

PeerMap = dict[tuple[date, str, str], float]
# warm-up metric -> the snapshot metric with the same definition
SAME_AS: dict[str, str] = {"cart_customers": "cart_buyers", "buyers": "paying_buyers"}
WARMUP_INDEX_AXES: dict[str, str] = {
    "visitors": "访客",
    "favourite_customers": "收藏",
    "cart_customers": "加购",
    "coupons_claimed": "领券",
    "buyers": "购买",
}


def load_peers(conn: Connection, sale_id: str, day_from: date, day_to: date) -> PeerMap:
    """Every imported peer value of the sale in [day_from, day_to]."""
    stmt = sql("metrics/peer_range").bindparams(bindparam("sale_id", type_=String()),
                                                 bindparam("day_from", type_=Date()),
                                                 bindparam("day_to", type_=Date())).columns(metric_day=Date())
    rows = conn.execute(stmt, {"sale_id": sale_id, "day_from": day_from, "day_to": day_to})
    return {(r.metric_day, r.crowd, r.metric): float(r.value) for r in rows}


def peer_value(peers: PeerMap, day: date, crowd: str, metric: str) -> float | None:
    """The peer average beside one shop figure, or None when none was imported."""
    for code in (metric, SAME_AS.get(metric)):
        if code is None:
            continue
        if (day, crowd, code) in peers:
            return peers[(day, crowd, code)]
    m = BY_NAME.get(metric)
    if m is not None and m.scope == "store" and (day, "whole_store", metric) in peers:
        return peers[(day, "whole_store", metric)]
    return None


def peers_beside(peers: PeerMap, day: date, crowd: str, metrics: Iterable[str]) -> dict[str, float]:
    """{metric: peer average} for the metrics of one snapshot row that have one."""
    out = {}
    for name in metrics:
        value = peer_value(peers, day, crowd, name)
        if value is not None:
            out[name] = value
    return out


@dataclass
class WarmupIndex:
    crowd: str
    axes: dict[str, float | None]                     # axis -> index (100 = peers), None: no peer data
    days: int                                         # warm-up days with data on at least one axis
    daily: dict[date, float] = field(default_factory=dict)

    @property
    def overall(self) -> float | None:
        vals = [v for v in self.axes.values() if v is not None]
        return sum(vals) / len(vals) if vals else None


def warmup_index(rows: Iterable[dict], peers: PeerMap, days: Iterable[date]) -> dict[str, WarmupIndex]:
    """The index per crowd (new, old) over ``days``; ``rows`` are published ``metric_warmup_daily`` rows."""
    wanted = set(days)
    by_key = {(r["metric_day"], r["crowd"]): r for r in rows if r["metric_day"] in wanted}
    out: dict[str, WarmupIndex] = {}
    for crowd in ("new", "old"):
        sums = {a: [0.0, 0.0] for a in WARMUP_INDEX_AXES}
        daily_ratios: dict[date, list[float]] = {}
        used_days = set()
        for (day, c), row in sorted(by_key.items()):
            if c != crowd:
                continue
            for axis in WARMUP_INDEX_AXES:
                peer = peer_value(peers, day, crowd, axis)
                if peer is None or peer <= 0:
                    continue
                sums[axis][0] += float(row[axis])
                sums[axis][1] += peer
                daily_ratios.setdefault(day, []).append(100.0 * float(row[axis]) / peer)
                used_days.add(day)
        axes = {a: (100.0 * s / p if p > 0 else None) for a, (s, p) in sums.items()}
        out[crowd] = WarmupIndex(crowd, axes, len(used_days),
                                 {d: sum(v) / len(v) for d, v in sorted(daily_ratios.items())})
    return out
