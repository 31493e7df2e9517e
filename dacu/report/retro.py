"""The sale's retro (复盘) data: published snapshots, peers, warm-up index, uplift/ROI, new customers, saved crowds.

Reads only published, validated figures (``metric_snapshots`` single-day rows,
``metric_warmup_daily``), the imported peers, the segment runs and the dispatch
ledger; the new-customer archive is the catalogue crowd ``sale_new_customers``
evaluated at the end of the sale (or at ``generated_at`` if earlier). No
customer id leaves this module: only counts and amounts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.engine import Engine

from dacu.metrics.definitions import CROWDS, SNAPSHOT_METRICS
from dacu.metrics.peers import PeerMap, WarmupIndex, load_peers, peer_value, warmup_index
from dacu.metrics.uplift import UpliftReport, compute_uplift

NEW_CUSTOMER_CROWD = "sale_new_customers"


@dataclass
class SavedCrowd:
    strategy_id: str
    name: str
    runs: int
    last_run_key: str
    last_as_of: datetime           # sale-local
    crowd_size: int
    treatment: int
    holdout: int


@dataclass
class NewCustomers:
    count: int | None              # the crowd at the end of the sale
    start: datetime                # sale-local bounds used
    end: datetime
    as_of: datetime
    archived: int | None           # size of the latest segment run of a strategy on this crowd (nurture group)
    archived_by: str | None


@dataclass
class RetroData:
    sale_id: str
    sale_name: str
    timezone: str
    window: tuple[date, date]
    generated_at: datetime                                   # naive UTC (the caller's time)
    days: list[date]                                         # days with a published single-day snapshot
    snapshots: dict[tuple[date, str], dict]                  # (day, crowd) -> published row
    warmup_rows: list[dict]
    warmup_days: list[date]
    peers: PeerMap
    warmup: dict[str, WarmupIndex]
    uplift: UpliftReport
    strategy_names: dict[str, str]
    new_customers: NewCustomers | None
    saved_crowds: list[SavedCrowd]
    phases: list[tuple[str, str, date, date]] = field(default_factory=list)

    def value(self, day: date, crowd: str, metric: str) -> float | None:
        row = self.snapshots.get((day, crowd))
        if row is None or row.get(metric) is None:
            return None
        v = float(row[metric])
        return None if math.isnan(v) else v

    def peer(self, day: date, crowd: str, metric: str) -> float | None:
        return peer_value(self.peers, day, crowd, metric)


def _local_naive_utc(day: date, tz, t: time = time(0)) -> datetime:
    return datetime.combine(day, t, tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)


def collect_retro(engine: Engine, playbook, *, generated_at: datetime) -> RetroData:
    """Everything the retro report shows for ``playbook``'s sale, as of ``generated_at`` (naive UTC)."""
    from dacu.warehouse.schema import metric_snapshots as ms
    from dacu.warehouse.schema import metric_warmup_daily as mw
    from dacu.warehouse.schema import segment_runs as sr

    sale = playbook.sale
    tz = playbook.tz
    first, last = sale.window.start, sale.window.end
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            select(ms).where(ms.c.sale_id == sale.id, ms.c.day_from == ms.c.day_to,
                             ms.c.day_from >= first, ms.c.day_from <= last))]
        warm = [dict(r._mapping) for r in conn.execute(
            select(mw).where(mw.c.sale_id == sale.id, mw.c.metric_day >= first, mw.c.metric_day <= last)
            .order_by(mw.c.metric_day, mw.c.crowd))]
        peers = load_peers(conn, sale.id, first, last)
        runs = [dict(r._mapping) for r in conn.execute(
            select(sr).where(sr.c.sale_id == sale.id).order_by(sr.c.as_of, sr.c.strategy_id))]
    snapshots = {(r["day_from"], r["crowd"]): r for r in rows}
    days = sorted({d for d, _ in snapshots})
    warm_phase = next((p for p in playbook.phases if p.id == "warmup"), None)
    warm_days = [d for d in (warm_phase.days() if warm_phase else []) if first <= d <= last]
    published_warm_days = sorted({w["metric_day"] for w in warm} & set(warm_days))
    names = {s.id: s.name for s in playbook.strategies}

    saved: dict[str, SavedCrowd] = {}
    for r in runs:
        local = r["as_of"].replace(tzinfo=timezone.utc).astimezone(tz).replace(tzinfo=None)
        s = saved.get(r["strategy_id"])
        if s is None:
            s = saved[r["strategy_id"]] = SavedCrowd(r["strategy_id"], names.get(r["strategy_id"], ""), 0,
                                                     r["run_key"], local, 0, 0, 0)
        s.runs += 1
        if local >= s.last_as_of:
            s.last_run_key, s.last_as_of = r["run_key"], local
            s.crowd_size, s.treatment, s.holdout = int(r["crowd_size"]), int(r["treatment"]), int(r["holdout"])

    return RetroData(
        sale_id=sale.id, sale_name=sale.name, timezone=sale.timezone, window=(first, last),
        generated_at=generated_at, days=days, snapshots=snapshots, warmup_rows=warm,
        warmup_days=published_warm_days, peers=peers, warmup=warmup_index(warm, peers, published_warm_days),
        uplift=compute_uplift(engine, sale_id=sale.id, attribution_days=playbook.metrics.attribution_days,
                              until=generated_at),
        strategy_names=names, new_customers=_new_customers(engine, playbook, generated_at, runs),
        saved_crowds=sorted(saved.values(), key=lambda s: (s.last_as_of, s.strategy_id)),
        phases=[(p.id, p.name, p.days()[0], p.days()[-1]) for p in playbook.phases],
    )


def _new_customers(engine: Engine, playbook, generated_at: datetime, runs: list[dict]) -> NewCustomers | None:
    """The sale's new customers (catalogue crowd ``sale_new_customers``), with the playbook's bounds if it uses it."""
    from dacu.crowds.bounds import CrowdContext
    from dacu.crowds.evaluate import crowd_expr, run_crowd
    from dacu.playbook.timeparse import parse_local_datetime

    tz = playbook.tz
    users = [s for s in playbook.strategies if s.crowd is not None and s.crowd.base == NEW_CUSTOMER_CROWD]
    params = dict(users[0].crowd.params) if users else {}
    peak = next((p for p in playbook.phases if p.id == "peak"), None)
    default_end = peak.end if peak else datetime.combine(playbook.sale.window.end, time(23, 59), tzinfo=tz)
    params.setdefault("start", datetime.combine(playbook.sale.reference_day, time(0), tzinfo=tz)
                      .strftime("%Y-%m-%d %H:%M"))
    params.setdefault("end", default_end.strftime("%Y-%m-%d %H:%M"))
    sale_end = datetime.combine(playbook.sale.window.end + timedelta(days=1), time(0), tzinfo=tz)
    now_local = generated_at.replace(tzinfo=timezone.utc).astimezone(tz)
    as_of = min(sale_end, now_local)
    ref = crowd_expr({"base": NEW_CUSTOMER_CROWD, "params": params}).base
    ctx = CrowdContext(playbook.sale.id, playbook.sale.reference_day, tz, as_of)
    with engine.connect() as conn:
        count = len(run_crowd(conn, ref, ctx))
    archived = archived_by = None
    user_ids = {s.id for s in users}
    latest = [r for r in runs if r["strategy_id"] in user_ids]
    if latest:
        r = max(latest, key=lambda r: r["as_of"])
        archived, archived_by = int(r["crowd_size"]), r["strategy_id"]

    def local(v) -> datetime:
        return v if isinstance(v, datetime) else parse_local_datetime(str(v), tz)
    return NewCustomers(count, local(params["start"]).replace(tzinfo=None), local(params["end"]).replace(tzinfo=None),
                        as_of.replace(tzinfo=None), archived, archived_by)


# display order of the per-crowd metrics that may have a peer beside them
PEER_METRICS = [m.name for m in SNAPSHOT_METRICS if m.kind in ("rate", "value")]
CROWD_LABELS = CROWDS
