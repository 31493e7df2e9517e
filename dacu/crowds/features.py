"""The per-customer feature rows of a gate moment, in two layers, and which crowds they answer.

Why: one query per crowd reads the same orders and events again and again (a
naive crowd took ~5 s at 1M customers / 10M orders / 30M events). Every window
a feature crowd uses starts at a sale-local midnight (``CrowdContext.days_back``),
so what changes between the gates of one day (09:00, 20:00, ...) is only what
happened since the day's 00:00. Hence two layers in ``crowd_feature_rows``:

- the **base layer** ``base:<day>`` (``include/sql/crowds/features/base.sql``):
  per customer, everything before the day's 00:00 - first/last paid order, paid
  orders and amounts in 90/180/365 days and all history, the 3 calendar years
  before the day's year, the last visit / visit-cart-fav / cart-fav /
  cart-fav-coupon times and visit counts of the last 30 days - plus
  ``known_since`` (compared with the gate moment by the crowds). One pass over
  all orders, 30 days of events and customers, once per (sale, day, data mark);
- the **gate layer** ``gate:<as_of UTC>`` (``gate.sql``): full rows as of the
  gate moment for the customers whose features changed since 00:00 only -
  orders paid in [00:00, as_of] and events in [00:00, as_of], added to the base
  row (every window starts before 00:00, and today's are the latest). Every other
  customer's base row is already exact as of the gate moment. It reads the day's
  paid orders and events through their time indexes, and the base rows by key.

A crowd reads the gate row of a customer if there is one, else the base row
(``include/sql/crowds/features/<name>.sql``); crowds whose windows the rows do
not hold keep their reference SQL (``include/sql/crowds/<name>.sql``), which
stays the definition: tests/test_crowd_features.py compares both. A few of those
have a **history part** (``part_plan``): their members from the window before the
day's 00:00, once per day and data mark (``crowd_part_rows``, layer
``part:<day>:<digest>``), to which their feature query adds what happened since
00:00. The phase DAG's ``crowd_features`` task builds the base layer and the due
crowds' parts before the day's segment tasks (dacu.crowds.segment.prepare_crowd_day).

Caching: each layer has a row in ``crowd_feature_layers`` with the feature
version and the data mark (import batches seen). The first segment task of a
gate builds what is missing; later tasks (other Airflow tasks) reuse. A build
runs in one transaction that first deletes stale layer rows and then inserts its
own: a concurrent builder of the same layer blocks on that row (PostgreSQL: the
primary key; SQLite: the write lock), then finds the build done and reuses it.
Housekeeping: a new base layer drops the sale's layers older than
``KEEP_DAYS`` days before its day (readers re-check their layers, evaluate.py).
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from dacu.crowds.bounds import CrowdContext
from dacu.warehouse.schema import crowd_feature_layers, crowd_feature_rows, crowd_part_rows

log = logging.getLogger(__name__)

FEATURE_VERSION = 3          # bump when base/gate/part SQL or the columns change: older layers are rebuilt
PAID_WINDOWS = (90, 180, 365)
VISIT_WINDOWS = (7, 14, 30)
EVENT_DAYS = 30              # events the rows hold: the last 30 sale-local days up to the gate moment
YEARS_BACK = 3               # calendar years before the gate's year with their paid amounts
KEEP_DAYS = 2                # a new base layer drops the sale's layers of days before day - KEEP_DAYS


@dataclass(frozen=True)
class FeatureBuild:
    sale_id: str
    as_of: datetime          # naive UTC
    rows: int                # base layer rows (customers)
    seconds: float           # base layer build time (when it was built)
    built: bool              # False: both layers reused (built earlier by this or another task)
    gate_rows: int = 0       # gate layer rows (customers changed since the day's 00:00)
    gate_seconds: float = 0.0
    base_built: bool = False
    gate_built: bool = False


@dataclass(frozen=True)
class LayerBuild:
    layer: str
    rows: int
    seconds: float
    built: bool


@dataclass(frozen=True)
class PartPlan:
    """The history part of one crowd (with its params) on one sale-local day: the crowd's members
    from its window before the day's 00:00, built once per day and data mark into crowd_part_rows
    (``include/sql/crowds/features/part_<crowd>.sql``); the gate adds what happened since 00:00."""
    crowd: str
    layer: str               # "part:<day>:<digest of crowd and binds>"
    sql: str
    binds: dict[str, Any]    # the build's binds (sale_id and layer included)


def base_layer(ctx: CrowdContext) -> str:
    return f"base:{ctx.local_day.isoformat()}"


def gate_layer(ctx: CrowdContext) -> str:
    return f"gate:{ctx.as_of_utc.isoformat()}"


def layer_binds(ctx: CrowdContext) -> dict[str, Any]:
    """Binds every feature crowd query needs to find the gate's rows."""
    return {"sale_id": ctx.sale_id, "base_layer": base_layer(ctx), "gate_layer": gate_layer(ctx)}


def _window_binds(ctx: CrowdContext) -> dict[str, Any]:
    year = ctx.local_day.year
    b: dict[str, Any] = {"day_start": ctx.days_back(0), "y_to": ctx.day_start(date(year, 1, 1))}
    for w in PAID_WINDOWS:
        b[f"d{w}"] = ctx.days_back(w)
    for n in range(1, YEARS_BACK + 1):
        b[f"y{n}_from"] = ctx.day_start(date(year - n, 1, 1))
    return b


def base_binds(ctx: CrowdContext) -> dict[str, Any]:
    """Bind parameters of base.sql: the day's window bounds (naive UTC)."""
    b = {**_window_binds(ctx), "sale_id": ctx.sale_id, "layer": base_layer(ctx), "ev_since": ctx.days_back(EVENT_DAYS)}
    for w in VISIT_WINDOWS:
        b[f"v{w}"] = ctx.days_back(w)
    return b


def gate_binds(ctx: CrowdContext) -> dict[str, Any]:
    """Bind parameters of gate.sql."""
    return {**layer_binds(ctx), "day_start": ctx.days_back(0), "as_of": ctx.as_of_utc}


def data_mark(conn: Connection) -> str:
    from dacu.crowds.evaluate import statement

    n, last_id, done = conn.execute(statement("crowds/features/data_mark", {}), {}).one()
    return f"{n}:{last_id or 0}:{done or 0}"


def _key(sale_id: str, layer: str):
    return (crowd_feature_layers.c.sale_id == sale_id) & (crowd_feature_layers.c.layer == layer)


def _current(conn: Connection, sale_id: str, layer: str, mark: str) -> LayerBuild | None:
    row = conn.execute(select(crowd_feature_layers.c.row_count, crowd_feature_layers.c.seconds).where(
        _key(sale_id, layer) & (crowd_feature_layers.c.version == FEATURE_VERSION)
        & (crowd_feature_layers.c.data_mark == mark))).first()
    return None if row is None else LayerBuild(layer, row.row_count, row.seconds, False)


def _ensure_layer(engine: Engine, ctx: CrowdContext, layer: str, sql_name: str, binds: dict[str, Any],
                  mark: str, rebuild: bool, rows_table=crowd_feature_rows) -> LayerBuild:
    """Reuse a current build of ``layer`` or build it (one transaction, see the module doc)."""
    from dacu.crowds.evaluate import statement

    if not rebuild:
        with engine.connect() as conn:
            found = _current(conn, ctx.sale_id, layer, mark)
        if found is not None:
            return found
    start = time.monotonic()
    try:
        with engine.begin() as conn:
            # a write first: on SQLite it takes the write lock, so a concurrent builder waits here
            stale = _key(ctx.sale_id, layer)
            if not rebuild:
                stale = stale & ((crowd_feature_layers.c.version != FEATURE_VERSION)
                                 | (crowd_feature_layers.c.data_mark != mark))
            conn.execute(delete(crowd_feature_layers).where(stale))
            found = _current(conn, ctx.sale_id, layer, mark)
            if found is not None:                      # built by another task while we waited
                return found
            # PostgreSQL: a concurrent builder blocks on this key until we commit, then fails on it
            conn.execute(insert(crowd_feature_layers).values(
                sale_id=ctx.sale_id, layer=layer, day=ctx.local_day, version=FEATURE_VERSION, data_mark=mark,
                row_count=0, seconds=0.0))
            if conn.dialect.name == "postgresql":
                # the planner cannot estimate the 3-way customer union and JIT-compiles for seconds
                conn.exec_driver_sql("SET LOCAL jit = off")
                # per-customer hash aggregates of orders/events fit in memory instead of spilling
                conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
            conn.execute(delete(rows_table).where(
                (rows_table.c.sale_id == ctx.sale_id) & (rows_table.c.layer == layer)))
            rows = conn.execute(statement(sql_name, binds), binds).rowcount
            seconds = time.monotonic() - start
            conn.execute(crowd_feature_layers.update().where(_key(ctx.sale_id, layer)).values(
                row_count=rows, seconds=seconds))
    except IntegrityError:
        with engine.connect() as conn:
            found = _current(conn, ctx.sale_id, layer, mark)
        if found is None:
            raise
        return found
    log.info("crowd features %s %s: %d customers in %.2f s", ctx.sale_id, layer, rows, seconds)
    if engine.dialect.name == "postgresql":
        # fresh statistics so the crowd filters get good plans: after a base layer all columns; after
        # a gate layer only the layer key (its size decides how the base rows are anti-joined)
        with engine.begin() as conn:
            if rows_table is crowd_feature_rows and not sql_name.endswith("/base"):
                # the layer key's frequencies only: a 6,000-row sample estimates a gate layer's share
                # as well as the default 30,000 (measured at 1M rows: 0.063 vs 0.069 true) in ~30 ms
                # instead of ~150-230 ms, once per gate
                conn.exec_driver_sql("SET LOCAL default_statistics_target = 20")
            conn.exec_driver_sql("ANALYZE crowd_feature_rows" if sql_name.endswith("/base")
                                 else "ANALYZE crowd_part_rows" if rows_table is crowd_part_rows
                                 else "ANALYZE crowd_feature_rows (sale_id, layer)")
    return LayerBuild(layer, rows, seconds, True)


def ensure_base(engine: Engine, ctx: CrowdContext, *, rebuild: bool = False, mark: str | None = None) -> LayerBuild:
    """The base layer of the gate's sale-local day (built once per day and data mark)."""
    if mark is None:
        with engine.connect() as conn:
            mark = data_mark(conn)
    got = _ensure_layer(engine, ctx, base_layer(ctx), "crowds/features/base", base_binds(ctx), mark, rebuild)
    if got.built:
        # housekeeping: the day's base replaces the layers of days before KEEP_DAYS ago
        dropped = drop_features(engine, ctx.sale_id, before_day=ctx.local_day - timedelta(days=KEEP_DAYS))
        if dropped:
            log.info("crowd features %s: dropped %d older layers", ctx.sale_id, dropped)
    return got


def ensure_gate(engine: Engine, ctx: CrowdContext, *, rebuild: bool = False, mark: str | None = None) -> LayerBuild:
    """The gate layer of (sale_id, as_of); the base layer of the day must be current."""
    if mark is None:
        with engine.connect() as conn:
            mark = data_mark(conn)
    return _ensure_layer(engine, ctx, gate_layer(ctx), "crowds/features/gate", gate_binds(ctx), mark, rebuild)


def ensure_features(engine: Engine, ctx: CrowdContext, *, rebuild: bool = False) -> FeatureBuild:
    """Both layers of the gate moment: reuse current builds or build them."""
    with engine.connect() as conn:
        mark = data_mark(conn)
    base = ensure_base(engine, ctx, rebuild=rebuild, mark=mark)
    # a gate layer of the same data mark and version was merged with an identical base (the base
    # is a function of the data; housekeeping drops a day's gate layers with its base)
    gate = ensure_gate(engine, ctx, rebuild=rebuild, mark=mark)
    return FeatureBuild(ctx.sale_id, ctx.as_of_utc, base.rows, base.seconds, base.built or gate.built,
                        gate.rows, gate.seconds, base.built, gate.built)


def current_layers(engine: Engine, ctx: CrowdContext, layers: list[str], mark: str) -> set[str]:
    """Which of ``layers`` (the gate's sale) have a current build (version and data ``mark``): one
    read for a gate's history parts instead of one check per part."""
    if not layers:
        return set()
    with engine.connect() as conn:
        return set(conn.execute(select(crowd_feature_layers.c.layer).where(
            (crowd_feature_layers.c.sale_id == ctx.sale_id) & crowd_feature_layers.c.layer.in_(sorted(set(layers)))
            & (crowd_feature_layers.c.version == FEATURE_VERSION)
            & (crowd_feature_layers.c.data_mark == mark))).scalars())


def layers_present(conn: Connection, ctx: CrowdContext, parts: tuple[str, ...] = (), *,
                   rows: bool | str = True) -> bool:
    """Both layers of the gate (``rows``; ``"base"``: the base layer only) and the part layers
    ``parts`` still exist (housekeeping of another task may have dropped them)."""
    layers = (base_layer(ctx),) if rows == "base" else (base_layer(ctx), gate_layer(ctx)) if rows else ()
    want = {*layers, *parts}
    if not want:
        return True
    n = conn.execute(select(crowd_feature_layers.c.layer).where(
        (crowd_feature_layers.c.sale_id == ctx.sale_id)
        & crowd_feature_layers.c.layer.in_(sorted(want))
        & (crowd_feature_layers.c.version == FEATURE_VERSION))).all()
    return len(n) == len(want)


# --- history parts of crowds whose windows the rows do not hold ------------------------------------

PART_CROWDS = ("category_interest", "deposit_paid_balance_unpaid", "lapsed_members_category_intent",
               "presale_buyers_history")


def _jsonable(v: Any) -> Any:
    return v.isoformat() if isinstance(v, (date, datetime)) else list(v) if isinstance(v, tuple) else v


def part_plan(name: str, binds: dict[str, Any], ctx: CrowdContext) -> PartPlan | None:
    """The history part of crowd ``name`` (reference binds ``binds``) for the gate's day, or None.

    Its binds are functions of the sale-local day (the window's start and the day's 00:00), never
    of the gate moment; the layer name digests them, so a part is only shared where it is equal."""
    if name not in PART_CROWDS:
        return None
    day_start = ctx.days_back(0)
    if name == "category_interest":
        b: dict[str, Any] = {"intent_since": binds["intent_since"], "part_until": day_start,
                             "categories": list(binds["categories"])}
    elif name == "presale_buyers_history":
        b = {"since": binds["since"], "part_until": min(binds["before"], day_start)}
    elif name == "deposit_paid_balance_unpaid":
        b = {"since": binds["since"], "part_until": day_start}
    elif name == "lapsed_members_category_intent":
        b = {"base_layer": base_layer(ctx), "lapsed_since": binds["lapsed_since"],
             "intent_since": binds["intent_since"], "part_until": day_start,
             "intent_beyond_rows": int(binds["intent_since"] < ctx.days_back(EVENT_DAYS))}
    else:
        return None
    key = json.dumps({"crowd": name, **{k: _jsonable(v) for k, v in b.items()}}, sort_keys=True, ensure_ascii=False)
    layer = f"part:{ctx.local_day.isoformat()}:{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    return PartPlan(name, layer, f"crowds/features/part_{name}", {**b, "sale_id": ctx.sale_id, "layer": layer})


def ensure_part(engine: Engine, ctx: CrowdContext, part: PartPlan, *, rebuild: bool = False,
                mark: str | None = None) -> LayerBuild:
    """The history part ``part`` of the gate's day (built once per day and data mark), after the
    day's base layer (a part may read it: built first if it is not current)."""
    if mark is None:
        with engine.connect() as conn:
            mark = data_mark(conn)
    if "base_layer" in part.binds:
        ensure_base(engine, ctx, mark=mark)
    return _ensure_layer(engine, ctx, part.layer, part.sql, part.binds, mark, rebuild, crowd_part_rows)


def current_layer(engine: Engine, ctx: CrowdContext, layer: str) -> LayerBuild | None:
    """A current build of ``layer`` of the gate's sale (the day's base layer, a history part), if
    any (read-only: for previews)."""
    with engine.connect() as conn:
        return _current(conn, ctx.sale_id, layer, data_mark(conn))


def reusable_build(engine: Engine, ctx: CrowdContext) -> FeatureBuild | None:
    """Current builds of both layers of (sale_id, as_of), if any (read-only: for previews)."""
    with engine.connect() as conn:
        mark = data_mark(conn)
        base = _current(conn, ctx.sale_id, base_layer(ctx), mark)
        gate = _current(conn, ctx.sale_id, gate_layer(ctx), mark)
    if base is None or gate is None:
        return None
    return FeatureBuild(ctx.sale_id, ctx.as_of_utc, base.rows, base.seconds, False, gate.rows, gate.seconds)


def drop_features(engine: Engine, sale_id: str, *, day: date | None = None, before_day: date | None = None) -> int:
    """Delete feature layers of a sale - all, those of one sale-local ``day``, or those of days
    before ``before_day`` - with their rows. Returns the number of layers dropped."""
    where = crowd_feature_layers.c.sale_id == sale_id
    if day is not None:
        where = where & (crowd_feature_layers.c.day == day)
    if before_day is not None:
        where = where & (crowd_feature_layers.c.day < before_day)
    with engine.begin() as conn:
        layers = [r.layer for r in conn.execute(select(crowd_feature_layers.c.layer).where(where))]
        if day is None and before_day is None:
            conn.execute(delete(crowd_feature_rows).where(crowd_feature_rows.c.sale_id == sale_id))
            conn.execute(delete(crowd_part_rows).where(crowd_part_rows.c.sale_id == sale_id))
        for layer in layers:
            table = crowd_part_rows if layer.startswith("part:") else crowd_feature_rows
            conn.execute(delete(table).where((table.c.sale_id == sale_id) & (table.c.layer == layer)))
        conn.execute(delete(crowd_feature_layers).where(where))
    return len(layers)


# --- which crowds the features answer ---------------------------------------------------------------

def feature_query(name: str, binds: dict[str, Any], params: dict[str, Any],
                  ctx: CrowdContext) -> tuple[str, dict[str, Any]] | None:
    """(SQL file, binds) answering crowd ``name`` from the feature rows, or None: use the reference SQL.

    ``binds`` are the reference binds (bounds.bind_params); ``params`` the resolved params.
    Only windows the rows hold qualify, so both paths give the same members.
    """
    as_of = ctx.as_of_utc
    ev_since = ctx.days_back(EVENT_DAYS)
    b = {**binds, **layer_binds(ctx), "as_of": as_of}
    f = "crowds/features/"
    if name in ("whole_store", "old_customers", "new_customers", "member_buyers_365", "buyers_not_members",
                "rfm_low_quality", "sale_new_customers", "members", "fans", "live_stream_fans", "mobile_customers"):
        return f + name, b
    part = part_plan(name, binds, ctx)
    if part is not None:
        # the day's history part plus what happened since 00:00 (``today_since``: the later of the
        # window's start and 00:00; ``before``/``as_of`` still end the window)
        since = b["since"] if name in ("presale_buyers_history", "deposit_paid_balance_unpaid") else b["intent_since"]
        return f + name, {**b, "part_layer": part.layer, "today_since": max(since, ctx.days_back(0))}
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
    return None    # coupons, unpaid/closed orders (index ranges on orders), repurchase_due


# --- several simple feature crowds in one pass -------------------------------------------------------

SHARED_BINDS = frozenset({"sale_id", "base_layer", "gate_layer", "as_of"})
BATCH_SIZE = 30              # crowds per batched query: their bits fit an INTEGER


def _strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))


def batch_condition(name: str) -> str | None:
    """The WHERE condition of a *simple* feature crowd file - ``SELECT f.customer_id FROM (<gate_rows>) f
    WHERE <condition>`` with exactly the block of gate_rows.sql - or None (not batchable)."""
    from dacu.warehouse.sqlfiles import sql_text

    body = _strip_comments(sql_text(name)).strip()
    rows = _strip_comments(sql_text("crowds/features/gate_rows")).strip()
    head = "SELECT f.customer_id\nFROM (\n"
    if not body.startswith(head):
        return None
    block, sep, cond = body[len(head):].partition("\n) f\nWHERE ")
    if not sep or block.strip() != rows or not cond.strip():
        return None
    return cond.strip()


BATCH_SOURCES = {"rows": "crowds/features/gate_rows", "base": "crowds/features/base_layer_rows",
                 "gate": "crowds/features/gate_layer_rows"}


def batch_query(plans: list[tuple[str, dict[str, Any]]], source: str = "rows") -> tuple[str, dict[str, Any]]:
    """One query over the gate's feature rows answering several simple feature crowds: it returns
    ``(customer_id, m)`` for every customer of the rows, bit i of ``m`` set when the customer is in
    ``plans[i]`` (``m = 0``: in none; the caller skips those). ``source``: the gate's rows
    (gate_rows.sql), or only the base layer's or only the gate layer's rows: a customer's mask is
    its gate-layer row's if it has one, else its base row's (GateEvaluator reads the base batch
    while the gate layer is built). Each crowd's condition comes from its
    own SQL file, its binds renamed ``b<i>_<name>`` (the shared ones - sale, layers, as_of - stay);
    nothing else is added. No WHERE: it would evaluate every condition a second time (PostgreSQL
    and SQLite do not share the CASE's result), which costs more than sending the rows in no crowd -
    a gate's batch usually holds crowds of most of the shop (old, new, mobile customers)."""
    from dacu.crowds.evaluate import _BIND_RE
    from dacu.warehouse.sqlfiles import sql_text

    if not 1 <= len(plans) <= BATCH_SIZE:
        raise ValueError(f"batch of {len(plans)} crowds: 1 to {BATCH_SIZE}")
    conds: list[str] = []
    binds: dict[str, Any] = {k: plans[0][1][k] for k in ("sale_id", "base_layer", "gate_layer")}
    for i, (name, b) in enumerate(plans):
        cond = batch_condition(name)
        if cond is None:
            raise ValueError(f"{name}.sql is not a simple feature crowd")

        def rename(m, i=i, b=b):
            key = m.group(1)
            if key in SHARED_BINDS:
                binds[key] = b[key]
                return m.group(0)
            binds[f"b{i}_{key}"] = b[key]
            return f":b{i}_{key}"
        conds.append(_BIND_RE.sub(rename, cond))
    rows = _strip_comments(sql_text(BATCH_SOURCES[source])).strip()
    mask = "\n     + ".join(f"CASE WHEN ({c}) THEN {1 << i} ELSE 0 END" for i, c in enumerate(conds))
    sql = f"SELECT f.customer_id,\n       {mask} AS m\nFROM (\n{rows}\n) f"
    used = set(_BIND_RE.findall(sql))
    return sql, {k: v for k, v in binds.items() if k in used}


# PostgreSQL: the separator of the ids of one mask in grouped_batch_query (a control character no id
# is expected to hold; GateEvaluator checks the count and reads the plain rows if one does)
ID_SEPARATOR = "\x1f"


def grouped_batch_query(plans: list[tuple[str, dict[str, Any]]], source: str = "rows") -> tuple[str, dict[str, Any]]:
    """PostgreSQL: batch_query's rows grouped by mask on the server - ``(m, n, ids)`` per mask other
    than 0: ``n`` customers, their ids joined by ID_SEPARATOR. A gate's base batch has a few hundred
    masks over a million rows: the client then receives a few hundred strings (split in C) instead
    of a million rows it would group in Python (~0.7 s of client CPU at 1M, for ~0.2 s more on the
    server). The caller runs it with sorting off (the planner cannot guess the number of masks and
    would sort a million rows) and enough work_mem for the hash table (~17 MB at 1M)."""
    sql, binds = batch_query(plans, source)
    return (f"SELECT q.m, count(*) AS n, string_agg(q.customer_id, chr({ord(ID_SEPARATOR)})) AS ids\n"
            f"FROM (\n{sql}\n) q\nGROUP BY q.m\nHAVING q.m <> 0", binds)
