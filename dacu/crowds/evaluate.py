"""Evaluating crowd expressions as of a gate moment.

A crowd expression is ``{base, params, intersect: [...], exclude: [...]}``;
each named crowd runs its ``include/sql/crowds/<name>.sql`` with bind
parameters from ``bounds.py`` and yields customer ids. Composition is done in
Python on sets: base ∩ every intersect − every exclude.

Speed (docs/crowds.md): a ``GateEvaluator`` lives for one gate moment and
memoises every distinct (crowd, params) it has run, so the strategies of one
gate share their crowds (``paid_in_sale``, ``members`` ... run once) and the
contactability of the shop's customers is read once per channel set. Crowds
the per-customer feature table answers (features.py) filter it instead of
reading orders and events again; it is built once per (sale, gate moment).
"""
from __future__ import annotations

import json
import logging
import re
import statistics
from collections.abc import Callable, Iterable, Iterator, Mapping
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
    BATCH_SIZE, FeatureBuild, batch_condition, batch_query, ensure_features, feature_query, layers_present,
    reusable_build,
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


def run_crowd_features(conn: Connection, ref: CrowdRef, ctx: CrowdContext) -> frozenset[str] | None:
    """Customer ids of ``ref`` from the feature table (it must be built for ctx), or None if it cannot."""
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


FEATURE_MODES = ("build", "reuse", "off")


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

    def _read_features(self, read: Callable[[Connection], Any]) -> Any:
        """``read(conn)`` over the gate's feature rows; None when there are none to use (reuse mode).

        The layers are re-checked in the read's snapshot: another task's housekeeping may have
        dropped them (the read then saw no rows), so the gate rebuilds and reads again.
        """
        for _attempt in range(3):
            if not self._features_ready():
                return None
            with self._reading() as conn:
                found = read(conn)
                if layers_present(conn, self.ctx):
                    return found
            log.warning("crowd features of %s as of %s were dropped while read: rebuilding",
                        self.ctx.sale_id, self.ctx.as_of.isoformat())
            self._features_checked, self.feature_build = False, None
        raise RuntimeError(f"crowd features of {self.ctx.sale_id} as of {self.ctx.as_of.isoformat()} "
                           "keep being dropped while read")

    def _crowd_from_features(self, ref: CrowdRef) -> frozenset[str] | None:
        return self._read_features(lambda conn: run_crowd_features(conn, ref, self.ctx))

    def prefetch(self, refs: Iterable[CrowdRef]) -> None:
        """Evaluate, in one pass over the gate's feature rows, every crowd of ``refs`` not read yet
        whose feature query is a simple filter of them (features.batch_condition): what a gate's
        strategies share is read once instead of once per crowd. Others are left to ``crowd``."""
        if self.features_mode == "off":
            return
        todo: dict[CrowdRef, tuple[str, dict[str, Any]]] = {}
        for ref in refs:
            if ref in self._crowds or ref in todo:
                continue
            plan = feature_plan(ref, self.ctx)
            if plan is not None and batch_condition(plan[0]) is not None:
                todo[ref] = plan
        items = list(todo.items())
        for start in range(0, len(items), BATCH_SIZE):
            chunk = items[start:start + BATCH_SIZE]
            if len(chunk) < 2:
                break                                   # one crowd: its own query is the same pass
            found = self._batch_from_features([plan for _ref, plan in chunk])
            if found is None:
                return
            for (ref, _plan), members in zip(chunk, found):
                self._crowds[ref] = members
                log.info("crowd %s as of %s: %d customers (batched)", ref.label(), self.ctx.as_of.isoformat(),
                         len(members))

    def _batch_from_features(self, plans: list[tuple[str, dict[str, Any]]]) -> list[frozenset[str]] | None:
        sql, binds = batch_query(plans)

        def read(conn: Connection) -> list[frozenset[str]]:
            # rows grouped by mask first: few distinct masks, so each crowd is built by extends
            by_mask: dict[int, list[str]] = {}
            result = conn.execute(typed_text(sql, binds), binds)
            try:
                rows = result.cursor.fetchall()         # raw tuples: see _ids
            finally:
                result.close()
            for cid, m in rows:
                by_mask.setdefault(int(m), []).append(cid)
            out: list[list[str]] = [[] for _ in plans]
            for m, ids in by_mask.items():
                for i in range(len(plans)):
                    if m >> i & 1:
                        out[i].extend(ids)
            if rows and not isinstance(rows[0][0], str):
                return [frozenset(str(c) for c in ids) for ids in out]
            return [frozenset(ids) for ids in out]
        return self._read_features(read)

    def crowd(self, ref: CrowdRef) -> frozenset[str]:
        if ref not in self._crowds:
            found = None
            if self.features_mode != "off" and feature_plan(ref, self.ctx) is not None:
                found = self._crowd_from_features(ref)
            if found is None and self.features_mode != "off" and ref.base == "repurchase_due":
                with self._reading() as conn:
                    found = run_repurchase_due_bounded(conn, ref, self.ctx)
            if found is None:
                with self._reading() as conn:
                    found = run_crowd(conn, ref, self.ctx)
            self._crowds[ref] = found
            log.info("crowd %s as of %s: %d customers", ref.label(), self.ctx.as_of.isoformat(), len(found))
        return self._crowds[ref]

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
