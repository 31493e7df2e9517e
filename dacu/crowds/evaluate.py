"""Evaluating crowd expressions as of a gate moment.

A crowd expression is ``{base, params, intersect: [...], exclude: [...]}``;
each named crowd runs its ``include/sql/crowds/<name>.sql`` with bind
parameters from ``bounds.py`` and yields customer ids. Composition is done in
Python on sets: base ∩ every intersect − every exclude.

Speed (docs/crowds.md): a ``GateEvaluator`` lives for one gate moment and
memoises every distinct (crowd, params) it has run, so the strategies of one
gate share their crowds (``paid_in_sale``, ``members`` ... run once) and the
contactability of the shop's customers is read once per channel set. Crowds
the per-customer feature rows answer (features.py) filter them instead of
reading orders and events again: a base layer and history parts once per sale-local day, a gate
layer once per gate moment; on PostgreSQL a gate's crowds are read over a few connections at once.
"""
from __future__ import annotations

import gc
import json
import logging
import re
import statistics
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, Integer, String, bindparam, text
from sqlalchemy.engine import Connection, Engine

from dacu.crowds.bounds import CrowdContext, CrowdError, bind_params, resolve_params
from dacu.crowds.features import (
    BATCH_SIZE, ID_SEPARATOR, FeatureBuild, PartPlan, base_layer, batch_condition, batch_query, current_layer,
    current_layers, data_mark, ensure_base, ensure_features, ensure_part, feature_query, grouped_batch_query,
    layers_present, part_plan, reusable_build,
)
from dacu.warehouse.schema import CHANNELS
from dacu.warehouse.sqlfiles import sql_text

log = logging.getLogger(__name__)

EXPANDING = {"categories", "coupon_ids",          # list params bound as expanding IN (...)
             "exclude_seller_flags", "include_skus", "exclude_skus"}
GLOBAL_REASONS = ("blacklisted", "opted_out", "no_channel")
_BIND_RE = re.compile(r"(?<![:\w]):(\w+)")


# --- expressions ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class CrowdRef:
    base: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def params_dict(self) -> dict[str, Any]:
        return {k: _thaw(v) for k, v in self.params}

    def label(self) -> str:
        if not self.params:
            return self.base
        inner = ",".join(f"{k}={_thaw(v)}" for k, v in self.params)
        return f"{self.base}({inner})"


@dataclass(frozen=True)
class CrowdExpr:
    base: CrowdRef
    intersect: tuple[CrowdRef, ...] = ()
    exclude: tuple[CrowdRef, ...] = ()

    def to_json(self) -> str:
        def ref(r: CrowdRef) -> dict:
            return {"base": r.base, "params": {k: _jsonable(v) for k, v in r.params_dict.items()}}
        return json.dumps({**ref(self.base), "intersect": [ref(r) for r in self.intersect],
                           "exclude": [ref(r) for r in self.exclude]}, ensure_ascii=False, sort_keys=True)


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def _thaw(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _jsonable(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return value


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _ref(obj: Any, where: str) -> CrowdRef:
    base = _get(obj, "base")
    if not isinstance(base, str) or not base:
        raise CrowdError(f"{where}: crowd needs a base name")
    params = dict(_get(obj, "params") or {})
    resolve_params(base, params)                      # unknown crowd/param fails here, early
    return CrowdRef(base, tuple(sorted((k, _freeze(v)) for k, v in params.items())))


def crowd_expr(expr: Any) -> CrowdExpr:
    """A crowd expression from a playbook ``Crowd`` model or a plain mapping."""
    if isinstance(expr, CrowdExpr):
        return expr
    if expr is None:
        raise CrowdError("strategy has no crowd")
    return CrowdExpr(
        _ref(expr, "crowd"),
        tuple(_ref(r, f"crowd.intersect[{i}]") for i, r in enumerate(_get(expr, "intersect") or [])),
        tuple(_ref(r, f"crowd.exclude[{i}]") for i, r in enumerate(_get(expr, "exclude") or [])),
    )


# --- SQL of one crowd ----------------------------------------------------------------------------

def crowd_sql_name(name: str) -> str:
    return f"crowds/{name}"


@lru_cache(maxsize=128)
def sql_bind_names(name: str) -> frozenset[str]:
    """The ``:name`` bind parameters a SQL file uses (comments carry none)."""
    body = "\n".join(line for line in sql_text(name).splitlines() if not line.lstrip().startswith("--"))
    return frozenset(_BIND_RE.findall(body))


def statement(name: str, binds: dict[str, Any]):
    """``include/sql/<name>.sql`` as a statement with typed binds.

    Datetime binds get the ``DateTime`` type explicitly: SQLite stores
    ``YYYY-MM-DD HH:MM:SS.ffffff`` text and an untyped bind would render without
    the microseconds, which breaks comparisons at exact boundaries.
    """
    return typed_text(sql_text(name), binds, sql_bind_names(name))


def typed_text(sql: str, binds: dict[str, Any], used: Iterable[str] | None = None):
    """``sql`` as a statement with typed binds (see ``statement``); ``used``: the names it binds."""
    used = set(_BIND_RE.findall(sql)) if used is None else set(used)
    params = [bindparam(k, expanding=True) if k in EXPANDING else
              bindparam(k, type_=DateTime) if isinstance(v, datetime) else bindparam(k)
              for k, v in binds.items() if k in used]
    return text(sql).bindparams(*params)


def crowd_statement(name: str, binds: dict[str, Any]):
    stmt = statement(crowd_sql_name(name), binds)
    if name == "repurchase_due":
        stmt = stmt.columns(customer_id=String, sku_id=String, last_paid_at=DateTime, cycle_days=Integer)
    return stmt


def _ids(result) -> frozenset[str]:
    """The first column of every row, as strings, read straight from the DBAPI cursor: building
    SQLAlchemy Row objects costs ~2 s per million ids (PostgreSQL, measured) and ids need no
    result processing (bind processing already happened)."""
    cursor = getattr(result, "cursor", None)
    if cursor is None:                         # not a SQLAlchemy result (the bench's DuckDB adapter)
        return frozenset(str(r[0]) for r in result)
    try:
        rows = cursor.fetchall()
    finally:
        result.close()
    if rows and not isinstance(rows[0][0], str):
        return frozenset(str(r[0]) for r in rows)
    return frozenset(r[0] for r in rows)


def run_crowd(conn: Connection, ref: CrowdRef, ctx: CrowdContext) -> frozenset[str]:
    """Customer ids of one named crowd as of ``ctx.as_of`` by its reference SQL (the definition)."""
    binds = bind_params(ref.base, ref.params_dict, ctx)
    stmt = crowd_statement(ref.base, binds)
    used = {k: v for k, v in binds.items() if k in sql_bind_names(crowd_sql_name(ref.base))}
    if ref.base == "repurchase_due":
        return _repurchase_due(conn, stmt, used, binds, ctx)
    return _ids(conn.execute(stmt, used))


def feature_plan(ref: CrowdRef, ctx: CrowdContext) -> tuple[str, dict[str, Any]] | None:
    """(SQL file, binds) of the feature-table query for ``ref``, or None when only the reference SQL can."""
    binds = bind_params(ref.base, ref.params_dict, ctx)
    return feature_query(ref.base, binds, resolve_params(ref.base, ref.params_dict), ctx)


def crowd_part(ref: CrowdRef, ctx: CrowdContext) -> PartPlan | None:
    """The history part ``ref``'s feature query reads (features.part_plan), if any."""
    return part_plan(ref.base, bind_params(ref.base, ref.params_dict, ctx), ctx)


def run_crowd_features(conn: Connection, ref: CrowdRef, ctx: CrowdContext) -> frozenset[str] | None:
    """Customer ids of ``ref`` from the feature table (its layers and history part must be built
    for ctx), or None if it cannot."""
    plan = feature_plan(ref, ctx)
    if plan is None:
        return None
    name, binds = plan
    used = {k: v for k, v in binds.items() if k in sql_bind_names(name)}
    return _ids(conn.execute(statement(name, binds), used))


def _repurchase_due(conn: Connection, stmt, used: dict, binds: dict, ctx: CrowdContext) -> frozenset[str]:
    """Last purchase + the SKU's cycle falls in [as_of, as_of + window_days].

    The SQL cannot add days portably, so it returns (customer, SKU, last paid,
    cycle) and the arithmetic happens here. A SKU without ``repurchase_cycle_days``
    gets the median over its repeat buyers of their mean gap between orders,
    if at least ``min_history_customers`` customers bought it twice.
    """
    as_of = ctx.as_of_utc
    return _due(conn.execute(stmt, used).all(), as_of, binds["window_days"],
                lambda: _estimate_cycles(conn, as_of, binds["min_history_customers"]))


def run_repurchase_due_bounded(conn: Connection, ref: CrowdRef, ctx: CrowdContext) -> frozenset[str]:
    """``repurchase_due`` as the product runs it: the same members as ``run_crowd``, reading only
    the orders paid since as_of minus the longest cycle (known or estimated) instead of all history.

    A (customer, SKU) whose last purchase is older than that cannot come due; one with a purchase
    in the window has its last purchase there (support/repurchase_candidates.sql).
    """
    binds = bind_params(ref.base, ref.params_dict, ctx)
    as_of = ctx.as_of_utc
    estimated = _estimate_cycles(conn, as_of, binds["min_history_customers"])
    known = conn.execute(statement("crowds/support/max_sku_cycle", {}), {}).scalar()
    longest = max([float(known or 0), *estimated.values()])
    cand = {"as_of": as_of, "since": as_of - timedelta(days=longest)}
    stmt = statement("crowds/support/repurchase_candidates", cand).columns(
        customer_id=String, sku_id=String, last_paid_at=DateTime, cycle_days=Integer)
    return _due(conn.execute(stmt, cand).all(), as_of, binds["window_days"], lambda: estimated)


def _due(rows, as_of: datetime, window_days: int, estimates) -> frozenset[str]:
    """Customers with a (SKU, last paid, cycle) row whose last purchase + cycle is in
    [as_of, as_of + window_days]; ``estimates()`` gives the estimated cycles (called once, if needed)."""
    due_until = as_of + timedelta(days=window_days)
    estimated: dict[str, float] | None = None
    due: set[str] = set()
    for customer_id, sku_id, last_paid_at, cycle_days in rows:
        if cycle_days is None:
            if estimated is None:
                estimated = estimates()
            cycle = estimated.get(sku_id)
            if cycle is None:
                continue
        else:
            cycle = float(cycle_days)
        if as_of <= last_paid_at + timedelta(days=cycle) <= due_until:
            due.add(str(customer_id))
    return frozenset(due)


def _estimate_cycles(conn: Connection, as_of: datetime, min_customers: int) -> dict[str, float]:
    stmt = statement("crowds/support/repurchase_history", {"as_of": as_of}).columns(
        sku_id=String, customer_id=String, first_paid_at=DateTime, last_paid_at=DateTime, n_orders=Integer)
    gaps: dict[str, list[float]] = {}
    for sku_id, _cid, first, last, n in conn.execute(stmt, {"as_of": as_of}):
        gaps.setdefault(sku_id, []).append((last - first).total_seconds() / 86400 / (n - 1))
    return {sku: statistics.median(g) for sku, g in gaps.items() if len(g) >= min_customers}


# --- the gate's evaluator ------------------------------------------------------------------------

@dataclass(frozen=True)
class SaleContext:
    """The sale facts a crowd needs (a ``Playbook`` provides them too)."""
    sale_id: str
    reference_day: date
    tz: ZoneInfo


def sale_context(obj: Any) -> SaleContext:
    """From a ``SaleContext``, a ``Playbook`` (``.sale``, ``.tz``) or a mapping."""
    if isinstance(obj, SaleContext):
        return obj
    sale = _get(obj, "sale")
    if sale is not None:
        tz = _get(obj, "tz") or ZoneInfo(_get(sale, "timezone"))
        return SaleContext(_get(sale, "id"), _get(sale, "reference_day"), tz)
    tz = _get(obj, "tz")
    return SaleContext(_get(obj, "sale_id"), _get(obj, "reference_day"),
                       tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz or "Asia/Shanghai"))


@dataclass
class Composition:
    """An expression's members and what each step removed."""
    crowd: frozenset[str]                     # base ∩ intersects
    members: frozenset[str]                   # after the expression's excludes
    excluded: dict[str, int] = field(default_factory=dict)   # "exclude:<crowd>" -> count


def _ids_of(rows: list[tuple[Any, int]]) -> Iterable[str]:
    """The first column of ``(customer_id, mask)`` rows as strings."""
    if rows and not isinstance(rows[0][0], str):
        return (str(r[0]) for r in rows)
    return (r[0] for r in rows)


def _mask_groups(rows: list[tuple[Any, int]]) -> dict[int, frozenset[str]]:
    """``(customer_id, mask)`` rows as ``{mask: frozenset of ids}``, mask 0 (in no crowd) left out. A
    batch has few distinct masks (hundreds over a million rows): each crowd is then a union of a
    few sets."""
    by_mask: dict[int, list[Any]] = {}
    for cid, m in rows:
        if m:
            try:
                by_mask[m].append(cid)
            except KeyError:
                by_mask[m] = [cid]
    if rows and not isinstance(rows[0][0], str):
        return {int(m): frozenset(str(c) for c in ids) for m, ids in by_mask.items()}
    return {int(m): frozenset(ids) for m, ids in by_mask.items()}


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a gate reads its crowds: a million fetched rows
    (tuples the collector tracks) and sets of ids arrive in a burst, and each full collection rescans
    all of them; nothing read here forms reference cycles. 1M PostgreSQL: ~0.1-0.3 s of client CPU
    less per gate (measured). Restored as it was, also on error."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


FEATURE_MODES = ("build", "reuse", "off")
# PostgreSQL: connections a gate reads its crowds over at once (the batched pass and the crowds on
# their own queries overlap; each read is one connection, one transaction). SQLite: one.
PG_READERS = 3


class GateEvaluator:
    """Evaluates crowds for one sale at one gate moment; memoises each distinct crowd.

    ``features``: ``"build"`` (default) builds or reuses the gate's feature table and
    answers the crowds it can from it; ``"reuse"`` only uses a build that already
    exists (writes nothing: previews); ``"off"`` runs every crowd's reference SQL.
    """

    def __init__(self, engine: Engine, sale: Any, as_of: datetime, *, features: str = "build") -> None:
        if features not in FEATURE_MODES:
            raise ValueError(f"features={features!r}: use one of {', '.join(FEATURE_MODES)}")
        s = sale_context(sale)
        self.engine = engine
        self.ctx = CrowdContext(s.sale_id, s.reference_day, s.tz, as_of)
        self.features_mode = features
        self.feature_build: FeatureBuild | None = None
        self._features_checked = False
        self._base_ok: bool | None = None
        self._parts: dict[str, bool] = {}          # part layer -> built/current (False: none to reuse)
        self._crowds: dict[CrowdRef, frozenset[str]] = {}
        self._uncontactable: dict[tuple[str, ...], dict[str, str]] = {}

    def _features_ready(self) -> bool:
        if not self._features_checked:
            self._features_checked = True
            if self.features_mode == "build":
                self.feature_build = ensure_features(self.engine, self.ctx)
            elif self.features_mode == "reuse":
                self.feature_build = reusable_build(self.engine, self.ctx)
        return self.feature_build is not None

    def _base_ready(self) -> bool:
        """The day's base layer alone (a batch over the base rows runs while the gate layer is built)."""
        if self._base_ok is None:
            if self.features_mode == "build":
                ensure_base(self.engine, self.ctx)
                self._base_ok = True
            else:
                self._base_ok = (self.features_mode == "reuse"
                                 and current_layer(self.engine, self.ctx, base_layer(self.ctx)) is not None)
        return self._base_ok

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A read transaction for crowd queries. PostgreSQL: one snapshot for a read and the check
        of its layers (REPEATABLE READ; SQLite: a writer waits for readers), and no JIT: the
        planner's cost of a crowd query over a million rows triggers JIT compiling that takes
        longer (~1-2 s) than the query."""
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql("SET LOCAL jit = off")
                yield conn

    def _parts_ready(self, parts: list[PartPlan]) -> bool:
        """The history parts ``parts`` of the gate's day: built (build mode) or current (reuse)."""
        todo = [p.layer for p in parts if p.layer not in self._parts]
        mark = None
        if todo and self.features_mode == "build":
            # one read for the parts already current (the usual case: crowd_features built them)
            with self.engine.connect() as conn:
                mark = data_mark(conn)
            self._parts.update(dict.fromkeys(current_layers(self.engine, self.ctx, todo, mark), True))
        for part in parts:
            if part.layer not in self._parts:
                if self.features_mode == "build":
                    ensure_part(self.engine, self.ctx, part, mark=mark)
                    self._parts[part.layer] = True
                else:
                    self._parts[part.layer] = current_layer(self.engine, self.ctx, part.layer) is not None
            if not self._parts[part.layer]:
                return False
        return True

    def _read_features(self, read: Callable[[Connection], Any], parts: list[PartPlan] | None = None,
                       rows: bool | str = True) -> Any:
        """``read(conn)`` over the gate's feature rows (``rows``; ``"base"``: the base layer's only) and
        the history ``parts``; None when there are none to use (reuse mode). A read of parts only
        needs no gate layer.

        The layers are re-checked in the read's snapshot: another task's housekeeping may have
        dropped them (the read then saw no rows), so the gate rebuilds and reads again.
        """
        parts = parts or []
        for _attempt in range(3):
            if (rows == "base" and not self._base_ready()) or (rows is True and not self._features_ready()) \
                    or not self._parts_ready(parts):
                return None
            with self._reading() as conn:
                found = read(conn)
                if layers_present(conn, self.ctx, tuple(p.layer for p in parts), rows=rows):
                    return found
            log.warning("crowd features of %s as of %s were dropped while read: rebuilding",
                        self.ctx.sale_id, self.ctx.as_of.isoformat())
            self._features_checked, self.feature_build, self._base_ok = False, None, None
            self._parts.clear()
        raise RuntimeError(f"crowd features of {self.ctx.sale_id} as of {self.ctx.as_of.isoformat()} "
                           "keep being dropped while read")

    def _crowd_from_features(self, ref: CrowdRef) -> frozenset[str] | None:
        part = crowd_part(ref, self.ctx)
        return self._read_features(lambda conn: run_crowd_features(conn, ref, self.ctx),
                                   [part] if part is not None else None, rows=self._reads_rows(ref))

    def _reads_rows(self, ref: CrowdRef) -> bool:
        """Whether ``ref``'s feature query reads the gate's feature rows (else only its part and the
        day's own data: it needs no gate layer)."""
        plan = feature_plan(ref, self.ctx)
        return plan is not None and "gate_layer" in sql_bind_names(plan[0])

    def prefetch(self, refs: Iterable[CrowdRef]) -> None:
        """Evaluate every crowd of ``refs`` not read yet: those whose feature query is a simple filter
        of the gate's feature rows (features.batch_condition) in one pass over them - what a gate's
        strategies share is read once instead of once per crowd - and the others by their own
        queries. On PostgreSQL the batched pass and the other queries run over ``PG_READERS``
        connections at once (the day's layers and parts are built or checked first, here)."""
        with _collector_paused():
            self._prefetch(refs)

    def _prefetch(self, refs: Iterable[CrowdRef]) -> None:
        todo = [r for r in dict.fromkeys(refs) if r not in self._crowds]
        batches: list[list[tuple[tuple, tuple[str, dict[str, Any]]]]] = []
        refs_of: dict[tuple, list[CrowdRef]] = {}
        parts: dict[tuple, PartPlan] = {}
        if self.features_mode != "off":
            # crowds with the same condition (its text with the values of its binds: e.g. members and
            # members(min_level=1), sale_buyers and paid_in_sale of one window, though their files
            # differ) share one condition of the batch
            plans: dict[tuple, tuple[str, dict[str, Any]]] = {}
            for ref in todo:
                plan = feature_plan(ref, self.ctx)
                if plan is None or (cond := batch_condition(plan[0])) is None:
                    continue
                key = (_BIND_RE.sub(lambda m, b=plan[1]: f"<{b[m.group(1)]!r}>", cond),)
                refs_of.setdefault(key, []).append(ref)
                if key not in plans:
                    plans[key] = plan
                    if (part := crowd_part(ref, self.ctx)) is not None:
                        parts[key] = part
            items = list(plans.items())
            batches = [items[i:i + BATCH_SIZE] for i in range(0, len(items), BATCH_SIZE)]
            if batches and len(batches[-1]) < 2:
                batches.pop()                           # one crowd: its own query is the same pass
        batched = {r for chunk in batches for key, _plan in chunk for r in refs_of[key]}
        alone = [r for r in todo if r not in batched]
        if not batches and not alone:
            return
        readers = PG_READERS if self.engine.dialect.name == "postgresql" else 1
        parallel = readers > 1 and len(batches) + len(alone) > 1
        if parallel and self.features_mode != "off":
            # the day's base and parts before the reads run in threads; the gate layer is built by
            # one of the threads while the crowds that do not read it run
            self._base_ready()
            self._parts_ready(list({p.layer: p for r in alone if feature_plan(r, self.ctx) is not None
                                    and (p := crowd_part(r, self.ctx)) is not None}.values())
                              + list(parts.values()))

        def chunk_parts(chunk) -> list[PartPlan]:
            return list({parts[k].layer: parts[k] for k, _p in chunk if k in parts}.values())

        # a batch is two reads: the base layer's rows (no gate layer needed) and the gate layer's rows
        jobs: list[tuple[str, Any, Callable[[], Any]]] = []
        for n, chunk in enumerate(batches):
            plans_ = [plan for _key, plan in chunk]
            jobs.append(("base", n, lambda p=plans_, c=chunk: self._batch_rows(p, chunk_parts(c), "base")))
            jobs.append(("gate", n, lambda p=plans_, c=chunk: self._batch_rows(p, chunk_parts(c), "gate")))
        jobs += [("alone", ref, lambda ref=ref: self._evaluate(ref)) for ref in alone]
        if parallel:
            needs_gate = [kind == "gate" or (kind == "alone" and self._reads_rows(what)) for kind, what, _fn in jobs]
            with ThreadPoolExecutor(max_workers=readers) as pool:
                # the base batches and the reads of parts / own SQL start at once, next to the gate
                # layer's build; the gate batches and the other crowds wait for it
                gate = pool.submit(self._features_ready) if self.features_mode != "off" and any(needs_gate) else None
                futures = {}
                for i in sorted(range(len(jobs)), key=lambda i: (needs_gate[i], jobs[i][0] != "base")):
                    fn = jobs[i][2]
                    futures[i] = pool.submit(lambda fn=fn, wait=needs_gate[i]: (gate.result() if wait and gate
                                                                                else None, fn())[1])
                results = [futures[i].result() for i in range(len(jobs))]
        else:
            results = [fn() for _kind, _what, fn in jobs]
        rows_of: dict[tuple[str, int], Any] = {}
        for (kind, what, _fn), found in zip(jobs, results):
            if kind == "alone":
                self._remember(what, found)
            else:
                rows_of[kind, what] = found
        for n, chunk in enumerate(batches):
            base_groups, gate_rows = rows_of["base", n], rows_of["gate", n]
            if base_groups is None or gate_rows is None:
                continue                                # no layers to use (reuse mode): crowd() reads them
            for (key, _plan), members in zip(chunk, self._batch_sets(len(chunk), base_groups, gate_rows)):
                for ref in refs_of[key]:
                    self._remember(ref, members, " (batched)")

    def _remember(self, ref: CrowdRef, members: frozenset[str], how: str = "") -> None:
        self._crowds[ref] = members
        log.info("crowd %s as of %s: %d customers%s", ref.label(), self.ctx.as_of.isoformat(), len(members), how)

    def _batch_rows(self, plans: list[tuple[str, dict[str, Any]]], parts: list[PartPlan],
                    source: str) -> Any:
        """The batch's masks over ``source`` - features.batch_query: "base", the base layer's rows (read
        without the gate layer) as ``{mask: frozenset of ids}`` (masks other than 0); "gate", the gate
        layer's rows as ``[(customer_id, mask)]``. None when there are no layers to use (reuse mode).
        The base rows are grouped while the gate layer is being built: on PostgreSQL by the server
        (features.grouped_batch_query: a few hundred rows of joined ids instead of a million rows),
        elsewhere here, in the reader's thread (_mask_groups)."""
        if source == "base" and self.engine.dialect.name == "postgresql":
            groups = self._read_features(lambda conn: self._grouped_base(conn, plans), parts, rows="base")
            if groups is not False:
                return groups
            # an id holds the separator: the plain rows below
        sql, binds = batch_query(plans, source)

        def read(conn: Connection) -> list[tuple[str, int]]:
            result = conn.execute(typed_text(sql, binds), binds)
            try:
                return result.cursor.fetchall()         # raw tuples: see _ids
            finally:
                result.close()
        rows = self._read_features(read, parts, rows="base" if source == "base" else True)
        if rows is None or source != "base":
            return rows
        return _mask_groups(rows)

    @staticmethod
    def _grouped_base(conn: Connection, plans: list[tuple[str, dict[str, Any]]]) -> dict[int, frozenset[str]] | bool:
        """PostgreSQL: the base batch as ``{mask: frozenset of ids}`` grouped by the server; False when
        an id holds ID_SEPARATOR (a mask's pieces then outnumber its rows): the caller reads the rows."""
        sql, binds = grouped_batch_query(plans, "base")
        conn.exec_driver_sql("SET LOCAL enable_sort = off")
        conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
        result = conn.execute(typed_text(sql, binds), binds)
        try:
            rows = result.cursor.fetchall()
        finally:
            result.close()
        groups: dict[int, frozenset[str]] = {}
        for m, n, ids in rows:
            pieces = ids.split(ID_SEPARATOR)
            if len(pieces) != n:
                return False
            groups[int(m)] = frozenset(pieces)
        return groups

    @staticmethod
    def _batch_sets(n: int, base_groups: dict[int, frozenset[str]],
                    gate_rows: list[tuple[str, int]]) -> list[frozenset[str]]:
        """The batch's crowds: a customer's mask is its gate-layer row's if it has one, else its base
        row's (gate_rows.sql: the gate layer over the base layer). ``base_groups``: the base rows'
        ids by mask (_mask_groups); the changed customers (gate rows) leave the groups they are in,
        and crowd i is the union of the groups with bit i and the gate rows with bit i (set unions
        reuse the ids' hashes: no id is hashed twice)."""
        gate = _mask_groups(gate_rows)
        changed = frozenset(_ids_of(gate_rows))
        groups = [g if g.isdisjoint(changed) else g - changed for g in base_groups.values()]
        masks = list(base_groups)
        out: list[frozenset[str]] = []
        for i in range(n):
            bit = 1 << i
            parts = [g for m, g in zip(masks, groups) if m & bit]
            parts += [g for m, g in gate.items() if m & bit]
            parts.sort(key=len, reverse=True)              # copy the largest, add the others
            out.append(parts[0].union(*parts[1:]) if parts else frozenset())
        return out

    def crowd(self, ref: CrowdRef) -> frozenset[str]:
        if ref not in self._crowds:
            self._remember(ref, self._evaluate(ref))
        return self._crowds[ref]

    def _evaluate(self, ref: CrowdRef) -> frozenset[str]:
        """The members of one crowd by its own query: feature rows (and its part) where they answer
        it, else bounded repurchase_due, else the reference SQL."""
        found = None
        if self.features_mode != "off" and feature_plan(ref, self.ctx) is not None:
            found = self._crowd_from_features(ref)
        if found is None and self.features_mode != "off" and ref.base == "repurchase_due":
            with self._reading() as conn:
                found = run_repurchase_due_bounded(conn, ref, self.ctx)
        if found is None:
            with self._reading() as conn:
                found = run_crowd(conn, ref, self.ctx)
        return found

    def compose(self, expr: Any) -> Composition:
        e = crowd_expr(expr)
        self.prefetch([e.base, *e.intersect, *e.exclude])
        crowd = set(self.crowd(e.base))
        for ref in e.intersect:
            crowd &= self.crowd(ref)
        members = set(crowd)
        excluded: dict[str, int] = {}
        for ref in e.exclude:
            before = len(members)
            members -= self.crowd(ref)
            key = f"exclude:{ref.base}"
            excluded[key] = excluded.get(key, 0) + before - len(members)
        return Composition(frozenset(crowd), frozenset(members), excluded)

    def uncontactable(self, channels: Iterable[str]) -> dict[str, str]:
        """customer_id -> reason for every customer not reachable on any of ``channels``."""
        chans = tuple(sorted(set(channels)))
        bad = [c for c in chans if c not in CHANNELS]
        if bad or not chans:
            raise CrowdError(f"channels {list(channels)!r}: need at least one of {', '.join(CHANNELS)}")
        if chans not in self._uncontactable:
            with self._reading() as conn:
                self._uncontactable[chans] = uncontactable(conn, chans, self.ctx.as_of_utc)
        return self._uncontactable[chans]

    def eligible(self, expr: Any, channels: Iterable[str]) -> tuple[Composition, frozenset[str], dict[str, int]]:
        """(composition, ids that may be messaged, excluded_by_reason incl. the expression's excludes)."""
        comp = self.compose(expr)
        blocked = self.uncontactable(channels)
        excluded = dict(comp.excluded)
        for reason in GLOBAL_REASONS:
            excluded.setdefault(reason, 0)
        kept = set()
        for cid in comp.members:
            reason = blocked.get(cid)
            if reason is None:
                kept.add(cid)
            else:
                excluded[reason] += 1
        return comp, frozenset(kept), excluded


def uncontactable(conn: Connection, channels: Iterable[str], moment_utc: datetime) -> dict[str, str]:
    chans = set(channels)
    binds = {"as_of": moment_utc, "use_sms": int("sms" in chans), "use_email": int("email" in chans),
             "use_inapp": int("inapp" in chans)}
    return {str(cid): reason for cid, reason in conn.execute(statement("crowds/support/contactability", binds), binds)}


def evaluate_crowd(engine: Engine, expr: Any, as_of: datetime, playbook_context: Any,
                   channels: Iterable[str] | None = None, *, features: str = "build") -> set[str]:
    """Members of ``expr`` as of ``as_of`` (aware); with ``channels``, minus the global exclusions
    (blacklisted, opted out by as_of, no consented and reachable channel among ``channels``).
    ``features``: see ``GateEvaluator``."""
    ev = GateEvaluator(engine, playbook_context, as_of, features=features)
    if channels is None:
        return set(ev.compose(expr).members)
    return set(ev.eligible(expr, channels)[1])
