"""The per-customer feature table of one gate moment, and which crowds it answers.

Why: one query per crowd reads the same orders and events again and again (a
naive crowd took ~5 s at 1M customers / 10M orders / 30M events). Instead one
pass per gate moment (sale_id, as_of) aggregates, per customer: first/last
paid order, paid orders and amounts in 90/180/365 days and all history, paid
amounts of the 3 calendar years before the gate's year, the latest still-open
presale deposit, and the last visit / visit-cart-favourite / cart-favourite /
cart-favourite-coupon times and visit counts of the last 30 days
(``include/sql/crowds/features/build.sql``). Crowds whose windows the table
holds become filters over it (``include/sql/crowds/features/<name>.sql``); the
others keep their reference SQL (``include/sql/crowds/<name>.sql``), which
stays the definition: tests/test_crowd_features.py compares both.

Caching: a build is keyed by (sale_id, as_of) in ``crowd_feature_builds`` with
the feature version and the data mark (import batches seen). The first
segment task of a gate builds; later tasks (other Airflow tasks) reuse. The
build runs in one transaction that first deletes stale build rows and then
inserts its own build row: a concurrent builder of the same key blocks on
that row (PostgreSQL: the primary key; SQLite: the write lock), then finds the
build done and reuses it.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from dacu.crowds.bounds import CrowdContext
from dacu.warehouse.schema import crowd_feature_builds, crowd_features

log = logging.getLogger(__name__)

FEATURE_VERSION = 1          # bump when build.sql or the columns change: older builds are rebuilt
PAID_WINDOWS = (90, 180, 365)
VISIT_WINDOWS = (7, 14, 30)
EVENT_DAYS = 30              # events read by the build: the last 30 sale-local days up to as_of
YEARS_BACK = 3               # calendar years before the gate's year with their paid amounts


@dataclass(frozen=True)
class FeatureBuild:
    sale_id: str
    as_of: datetime          # naive UTC
    rows: int
    seconds: float
    built: bool              # False: reused a build made earlier (by this or another task)


def build_binds(ctx: CrowdContext) -> dict[str, Any]:
    """Bind parameters of build.sql: the window bounds of this gate moment (naive UTC)."""
    year = ctx.local_day.year
    b: dict[str, Any] = {"sale_id": ctx.sale_id, "as_of": ctx.as_of_utc, "ev_since": ctx.days_back(EVENT_DAYS),
                         "y_to": ctx.day_start(date(year, 1, 1))}
    for w in PAID_WINDOWS:
        b[f"d{w}"] = ctx.days_back(w)
    for w in VISIT_WINDOWS:
        b[f"v{w}"] = ctx.days_back(w)
    for n in range(1, YEARS_BACK + 1):
        b[f"y{n}_from"] = ctx.day_start(date(year - n, 1, 1))
    return b


def data_mark(conn: Connection) -> str:
    from dacu.crowds.evaluate import statement

    n, last_id, done = conn.execute(statement("crowds/features/data_mark", {}), {}).one()
    return f"{n}:{last_id or 0}:{done or 0}"


def _key(ctx: CrowdContext):
    return (crowd_feature_builds.c.sale_id == ctx.sale_id) & (crowd_feature_builds.c.as_of == ctx.as_of_utc)


def current_build(conn: Connection, ctx: CrowdContext, mark: str) -> FeatureBuild | None:
    row = conn.execute(select(crowd_feature_builds.c.row_count, crowd_feature_builds.c.seconds).where(
        _key(ctx) & (crowd_feature_builds.c.version == FEATURE_VERSION)
        & (crowd_feature_builds.c.data_mark == mark))).first()
    return None if row is None else FeatureBuild(ctx.sale_id, ctx.as_of_utc, row.row_count, row.seconds, False)


def ensure_features(engine: Engine, ctx: CrowdContext, *, rebuild: bool = False) -> FeatureBuild:
    """The feature rows of (sale_id, as_of): reuse a current build or build them (one transaction)."""
    from dacu.crowds.evaluate import statement

    with engine.connect() as conn:
        mark = data_mark(conn)
        found = None if rebuild else current_build(conn, ctx, mark)
    if found is not None:
        return found
    binds = build_binds(ctx)
    start = time.monotonic()
    try:
        with engine.begin() as conn:
            # a write first: on SQLite it takes the write lock, so a concurrent builder waits here
            stale = _key(ctx)
            if not rebuild:
                stale = stale & ((crowd_feature_builds.c.version != FEATURE_VERSION)
                                 | (crowd_feature_builds.c.data_mark != mark))
            conn.execute(delete(crowd_feature_builds).where(stale))
            found = current_build(conn, ctx, mark)
            if found is not None:                      # built by another task while we waited
                return found
            # PostgreSQL: a concurrent builder blocks on this key until we commit, then fails on it
            conn.execute(insert(crowd_feature_builds).values(
                sale_id=ctx.sale_id, as_of=ctx.as_of_utc, version=FEATURE_VERSION, data_mark=mark,
                row_count=0, seconds=0.0))
            if conn.dialect.name == "postgresql":
                # the planner cannot estimate the 3-way customer union and JIT-compiles for seconds
                conn.exec_driver_sql("SET LOCAL jit = off")
                # per-customer hash aggregates of orders/events fit in memory instead of spilling
                conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
            conn.execute(delete(crowd_features).where(
                (crowd_features.c.sale_id == ctx.sale_id) & (crowd_features.c.as_of == ctx.as_of_utc)))
            rows = conn.execute(statement("crowds/features/build", binds), binds).rowcount
            seconds = time.monotonic() - start
            conn.execute(crowd_feature_builds.update().where(_key(ctx)).values(row_count=rows, seconds=seconds))
    except IntegrityError:
        with engine.connect() as conn:
            found = current_build(conn, ctx, mark)
        if found is None:
            raise
        return found
    log.info("crowd features %s as of %s: %d customers in %.2f s", ctx.sale_id, ctx.as_of.isoformat(), rows, seconds)
    if engine.dialect.name == "postgresql":
        # fresh statistics so the crowd filters and probes get good plans
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE crowd_features")
    return FeatureBuild(ctx.sale_id, ctx.as_of_utc, rows, seconds, True)


def reusable_build(engine: Engine, ctx: CrowdContext) -> FeatureBuild | None:
    """A current build of (sale_id, as_of), if any (read-only: for previews)."""
    with engine.connect() as conn:
        return current_build(conn, ctx, data_mark(conn))


def drop_features(engine: Engine, sale_id: str, as_of: datetime | None = None) -> None:
    """Delete the feature rows and builds of a sale (one moment, naive UTC, or all): housekeeping."""
    fk = crowd_features.c.sale_id == sale_id
    bk = crowd_feature_builds.c.sale_id == sale_id
    if as_of is not None:
        fk, bk = fk & (crowd_features.c.as_of == as_of), bk & (crowd_feature_builds.c.as_of == as_of)
    with engine.begin() as conn:
        conn.execute(delete(crowd_feature_builds).where(bk))
        conn.execute(delete(crowd_features).where(fk))


# --- which crowds the features answer ---------------------------------------------------------------

def feature_query(name: str, binds: dict[str, Any], params: dict[str, Any],
                  ctx: CrowdContext) -> tuple[str, dict[str, Any]] | None:
    """(SQL file, binds) answering crowd ``name`` from the features, or None: use the reference SQL.

    ``binds`` are the reference binds (bounds.bind_params); ``params`` the resolved params.
    Only windows the table holds qualify, so both paths give the same members.
    """
    as_of = ctx.as_of_utc
    ev_since = ctx.days_back(EVENT_DAYS)
    b = {**binds, "sale_id": ctx.sale_id, "as_of": as_of}
    f = "crowds/features/"
    if name in ("whole_store", "old_customers", "new_customers", "deposit_paid_balance_unpaid", "member_buyers_365",
                "buyers_not_members", "rfm_low_quality", "sale_new_customers", "lapsed_members_category_intent"):
        return f + name, b
    if name in ("active_recent_buyers", "paid_in_sale"):
        return f + "paid_since", b
    if name in ("sale_buyers", "last_year_sale_buyers"):
        # "paid in [start, end) by as_of" is "last paid >= start" only when the window reaches as_of
        return (f + "paid_since", {**b, "since": b["start"]}) if b["end"] > as_of else None
    if name in ("promo_high_potential", "last_push"):
        return (f + name, b) if b["intent_since"] >= ev_since else None
    if name == "cart_or_fav_not_paid":
        if b["band_end"] > as_of and b["band_start"] >= ev_since:
            return f + name, b
        return f + "cart_or_fav_not_paid_band", b
    if name in ("high_value_repeat", "loyal_repeat_buyers", "rfm_high_quality"):
        lookback = params["lookback_days"]
        return (f + name, {**b, "lookback": lookback}) if lookback in PAID_WINDOWS else None
    if name == "watching_not_buying":
        window = params["visit_days"]
        if window in VISIT_WINDOWS and b["intent_since"] >= ev_since:
            return f + name, {**b, "visit_window": window}
        return None
    if name == "new_by_recency":
        if b["last_visit_from"] >= ev_since:
            return f + name, b
        return f + "new_by_recency_window", b
    if name == "lapsed_high_value_years":
        years = params["years_back"]
        return (f + name, {**b, "years_back": years}) if 1 <= years <= YEARS_BACK else None
    return None    # members, fans, live_stream_fans, mobile_customers (one customers scan), coupons,
    #                unpaid/closed orders, presale history, category interest, repurchase_due
