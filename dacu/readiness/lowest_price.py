"""Gate 6: the 30-day lowest-price rule (seed 004 影响历史最低价的活动).

A sale's official price of an item must be <= the item's lowest real transaction
price in the ``readiness.lowest_price_days`` (30) days before the sale price starts.
Inputs:
- the activity table (``readiness.lowest_price_activities_file``): which activity
  types count towards that lowest price (seed 004's table, kept as data);
- the merchant's planned prices (``readiness.planned_prices_file``), a CSV:
  ``sku_id,activity,price,start,end`` (times sale-local ``YYYY-MM-DD HH:MM``);
  ``activity`` is ``official_sale`` (exactly one row per SKU: the sale price) or an
  activity id of the table (a planned pre-sale activity).
Verdicts per SKU:
- fail (ineligible): official price > lowest paid unit price in the window so far
  (orders before the check moment); strategies whose ``material.products`` list the
  SKU are blocked;
- warn: a planned activity that counts, inside the window, priced below the
  official price (it would set a new lowest price and make the SKU ineligible);
- warn: a SKU the warehouse does not know.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import Engine

from dacu.readiness.result import LOWEST_PRICE, GateResult, ReadinessConfigError, to_utc_naive
from dacu.readiness.util import local, resolve_file
from dacu.warehouse.sqlfiles import sql

OFFICIAL = "official_sale"
COLUMNS = ("sku_id", "activity", "price", "start", "end")


@dataclass(frozen=True)
class Activity:
    id: str
    name: str
    counts: bool


@dataclass(frozen=True)
class PlannedPrice:
    line: int
    sku_id: str
    activity: str
    price: Decimal
    start: datetime      # aware, sale timezone
    end: datetime


def load_activities(path: Path) -> dict[str, Activity]:
    where = f"readiness.lowest_price_activities_file {path}"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReadinessConfigError(f"{where}: cannot read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ReadinessConfigError(f"{where}: not valid YAML ({exc})") from None
    items = data.get("activities") if isinstance(data, dict) else None
    if not isinstance(items, dict) or not items:
        raise ReadinessConfigError(f"{where}: needs a mapping 'activities: {{id: {{name, counts}}}}'")
    out = {}
    for key, item in items.items():
        if not isinstance(item, dict) or not isinstance(item.get("counts"), bool) or not item.get("name"):
            raise ReadinessConfigError(f"{where}: activities.{key} needs 'name' and 'counts: true|false'")
        out[str(key)] = Activity(str(key), str(item["name"]), item["counts"])
    if OFFICIAL in out:
        raise ReadinessConfigError(f"{where}: '{OFFICIAL}' is reserved for the sale price rows")
    return out


def _time(text: str, tz, where: str) -> datetime:
    try:
        value = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise ReadinessConfigError(f"{where}: {text!r} is not a time YYYY-MM-DD HH:MM (sale-local)") from None
    return value.replace(tzinfo=tz)


def load_planned_prices(path: Path, activities: dict[str, Activity], tz) -> list[PlannedPrice]:
    """Every row checked; all problems reported at once, each naming file:line and column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ReadinessConfigError(f"readiness.planned_prices_file {path}: cannot read ({exc.strerror or exc})") from None
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ReadinessConfigError(f"{path}:1 missing column(s) {', '.join(missing)} (need {','.join(COLUMNS)})")
    rows: list[PlannedPrice] = []
    errors: list[str] = []
    official: dict[str, int] = {}
    for n, rec in enumerate(reader, start=2):
        where = f"{path}:{n}"
        try:
            sku = (rec["sku_id"] or "").strip()
            if not sku:
                raise ReadinessConfigError(f"{where} sku_id is empty")
            act = (rec["activity"] or "").strip()
            if act != OFFICIAL and act not in activities:
                raise ReadinessConfigError(f"{where} activity {act!r} is not {OFFICIAL} or an activity of the table "
                                           f"({', '.join(sorted(activities))})")
            try:
                price = Decimal((rec["price"] or "").strip())
            except InvalidOperation:
                raise ReadinessConfigError(f"{where} price {rec['price']!r} is not a number") from None
            if not price.is_finite() or price <= 0:
                raise ReadinessConfigError(f"{where} price {rec['price']!r} must be > 0")
            start = _time(rec["start"] or "", tz, f"{where} start")
            end = _time(rec["end"] or "", tz, f"{where} end")
            if end <= start:
                raise ReadinessConfigError(f"{where} end is not after start")
            if act == OFFICIAL:
                if sku in official:
                    raise ReadinessConfigError(f"{where} second {OFFICIAL} row for {sku} (first at line {official[sku]})")
                official[sku] = n
            rows.append(PlannedPrice(n, sku, act, price, start, end))
        except ReadinessConfigError as exc:
            errors.append(str(exc))
    if errors:
        raise ReadinessConfigError("\n".join(errors))
    return rows


def check_lowest_price(engine: Engine, playbook: Any, at: datetime) -> GateResult:
    res = GateResult(LOWEST_PRICE)
    cfg = playbook.readiness
    tz = playbook.tz
    if not cfg.planned_prices_file:
        res.warn("readiness.planned_prices_file is not set: the 30-day lowest-price rule is not checked")
        return res
    try:
        activities = load_activities(resolve_file(cfg.lowest_price_activities_file))
        planned = load_planned_prices(resolve_file(cfg.planned_prices_file), activities, tz)
    except ReadinessConfigError as exc:
        for line in str(exc).splitlines():
            res.fail(line)
        # the rule cannot be checked: every strategy that promotes products waits for a fixed file
        products = {sku for s in playbook.strategies if s.material is not None for sku in s.material.products}
        _block_products(res, playbook, products, "unchecked: the planned prices or activity table are unreadable")
        return res
    official = {p.sku_id: p for p in planned if p.activity == OFFICIAL}
    others = [p for p in planned if p.activity != OFFICIAL]
    for p in others:
        if p.sku_id not in official:
            res.warn(f"{cfg.planned_prices_file}:{p.line} {p.sku_id} has a {p.activity} row but no {OFFICIAL} price")
    with engine.connect() as conn:
        known_skus = {str(r[0]) for r in conn.execute(sql("readiness/sku_ids")).all()}
    window = timedelta(days=cfg.lowest_price_days)
    # one query per distinct window (usually one: the sale's start)
    lowest_by_window: dict[tuple[datetime, datetime], dict[str, Decimal]] = {}
    verdicts: dict[str, dict[str, Any]] = {}
    ineligible: set[str] = set()
    for sku, off in sorted(official.items()):
        since, until = off.start - window, min(off.start, at)
        key = (since, until)
        if key not in lowest_by_window:
            lowest_by_window[key] = _lowest(engine, since, until) if until > since else {}
        lowest = lowest_by_window[key].get(sku)
        v: dict[str, Any] = {"official": str(off.price), "lowest_paid": str(lowest) if lowest is not None else None}
        if sku not in known_skus:
            res.warn(f"{cfg.planned_prices_file}:{off.line} {sku} is not a SKU of the warehouse")
        if lowest is not None and off.price > lowest:
            ineligible.add(sku)
            v["verdict"] = "ineligible"
            res.fail(f"{sku}: sale price {off.price} > lowest paid price {lowest} since {local(since, tz)} "
                     f"({cfg.lowest_price_days}-day rule): not eligible for the sale price")
        for p in others:
            if p.sku_id != sku or not activities[p.activity].counts:
                continue
            if p.start < off.start and p.end > since and p.price < off.price:
                v.setdefault("risky_activities", []).append(p.activity)
                res.warn(f"{sku}: planned {activities[p.activity].name} ({p.activity}) at {p.price} from "
                         f"{local(p.start, tz)} counts towards the lowest price and is below the sale price "
                         f"{off.price}: it would make {sku} ineligible (line {p.line})")
        v.setdefault("verdict", "eligible")
        verdicts[sku] = v
    res.details.update(skus=verdicts, activities_ignored=sum(1 for p in others if not activities[p.activity].counts))
    _block_products(res, playbook, ineligible, "ineligible for its sale price (30-day lowest-price rule)")
    if not res.reasons:
        res.reasons.append(f"{len(official)} SKU(s) at or below their {cfg.lowest_price_days}-day lowest paid price")
    return res


def _lowest(engine: Engine, since: datetime, until: datetime) -> dict[str, Decimal]:
    with engine.connect() as conn:
        rows = conn.execute(sql("readiness/lowest_paid_price"),
                            {"since": to_utc_naive(since), "until": to_utc_naive(until)}).all()
    return {str(sku): Decimal(str(v)).quantize(Decimal("0.01")) for sku, v in rows}


def _block_products(res: GateResult, playbook: Any, skus: set[str], reason: str) -> None:
    for s in playbook.strategies:
        products = set(s.material.products) if s.material is not None else set()
        hit = sorted(products & skus) if skus else []
        if hit:
            res.block(s.id, f"product(s) {', '.join(hit)} {reason}")
