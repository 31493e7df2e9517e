"""Crowd parameters → bind parameters: sale-local definitions become naive-UTC bounds.

The SQL never does date arithmetic (it must run unchanged on SQLite and
PostgreSQL), so every bound is computed here from the gate moment ``as_of``
(aware) and the sale's timezone, then bound as a naive UTC datetime.

Day counts are sale-local *calendar* days: "in the last N days" at a gate on
day D means from 00:00 of D−N (sale-local) up to the gate moment, inclusive.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from dacu.crowds.catalog import CROWDS

EPOCH = datetime(1970, 1, 1)          # "since the beginning" lower bound (naive UTC)
REFERENCE_DAY = "reference_day"       # parameter value naming 00:00 of the sale's reference day
NEW_BY_RECENCY_BANDS = ("recent", "dormant", "lapsed")

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?$")


class CrowdError(ValueError):
    """A crowd expression names an unknown crowd or carries a bad parameter."""


@dataclass(frozen=True)
class CrowdContext:
    """What a crowd is evaluated against: the sale and the gate moment."""
    sale_id: str
    reference_day: date
    tz: ZoneInfo
    as_of: datetime            # aware; the gate's (run's) time, never the wall clock

    def __post_init__(self) -> None:
        if self.as_of.tzinfo is None:
            raise CrowdError("as_of must be timezone-aware (the gate moment)")

    # --- bounds (naive UTC) ---
    @property
    def as_of_utc(self) -> datetime:
        return to_utc(self.as_of)

    @property
    def local_day(self) -> date:
        return self.as_of.astimezone(self.tz).date()

    def day_start(self, day: date) -> datetime:
        """00:00 sale-local of ``day`` as naive UTC."""
        return to_utc(datetime.combine(day, time(0, 0), tzinfo=self.tz))

    def days_back(self, n: int) -> datetime:
        """00:00 sale-local of the gate day minus ``n`` days, naive UTC."""
        return self.day_start(self.local_day - timedelta(days=n))

    @property
    def ref_day_start(self) -> datetime:
        return self.day_start(self.reference_day)


def to_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise CrowdError(f"{moment!r} has no timezone")
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


# --- parameter values ----------------------------------------------------------------------------

def _moment(ctx: CrowdContext, crowd: str, name: str, value: Any, *, end: bool) -> datetime:
    """A sale-local date/datetime parameter as a naive-UTC bound.

    A date as ``end`` covers the whole day (bound = next day's 00:00, exclusive);
    a minute-precision datetime as ``end`` covers its minute ("23:59" = to 24:00).
    Start bounds are inclusive.
    """
    if value == REFERENCE_DAY:
        return ctx.ref_day_start
    if isinstance(value, str):
        text = value.strip()
        if _DATE_RE.match(text):
            value = date.fromisoformat(text)
        elif _DATETIME_RE.match(text):
            value = datetime.fromisoformat(text.replace("T", " "))
        else:
            raise CrowdError(f"crowd {crowd}: param {name}={value!r} is not YYYY-MM-DD or 'YYYY-MM-DD HH:MM'")
    if isinstance(value, datetime):
        local = value.replace(tzinfo=ctx.tz) if value.tzinfo is None else value
        if end and local.second == 0 and local.microsecond == 0:
            local = local + timedelta(minutes=1)
        return to_utc(local)
    if isinstance(value, date):
        return ctx.day_start(value + timedelta(days=1) if end else value)
    raise CrowdError(f"crowd {crowd}: param {name}={value!r} is not a date or datetime")


def _int(crowd: str, name: str, value: Any, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or value < minimum:
        raise CrowdError(f"crowd {crowd}: param {name}={value!r} must be a whole number >= {minimum}")
    return int(value)


def _number(crowd: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise CrowdError(f"crowd {crowd}: param {name}={value!r} must be a number >= 0")
    return float(value)


def _str_list(crowd: str, name: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, (str, int)) for v in value):
        raise CrowdError(f"crowd {crowd}: param {name} must be a list of ids")
    return [str(v) for v in value]


def resolve_params(name: str, params: dict | None) -> dict[str, Any]:
    """Catalogue defaults + the strategy's params; unknown or missing ones are errors."""
    spec = CROWDS.get(name)
    if spec is None:
        raise CrowdError(f"unknown crowd {name!r} (see dacu/crowds/catalog.py)")
    params = dict(params or {})
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        allowed = ", ".join(sorted(spec.params)) or "none"
        raise CrowdError(f"crowd {name}: unknown param(s) {', '.join(unknown)} (allowed: {allowed})")
    merged = {**spec.params, **params}
    missing = sorted(k for k, v in merged.items() if v is None and k not in spec.optional)
    if missing:
        raise CrowdError(f"crowd {name}: param(s) {', '.join(missing)} required")
    return merged


def _order_filters(crowd: str, p: dict[str, Any], b: dict[str, Any]) -> None:
    """The reminder filters of seed 004 (实付金额 range, 屏蔽卖家标记, 指定/排除指定商品) as binds.

    An absent filter binds ``use_<filter>=0`` and a placeholder, so one SQL text
    serves every combination (an expanding IN needs at least one value).
    """
    for key in ("min_amount", "max_amount"):
        given = p[key] is not None
        b[f"use_{key}"] = int(given)
        b[key] = _number(crowd, key, p[key]) if given else 0.0
    if b["use_min_amount"] and b["use_max_amount"] and b["max_amount"] < b["min_amount"]:
        raise CrowdError(f"crowd {crowd}: max_amount ({p['max_amount']}) is less than min_amount ({p['min_amount']})")
    for key in ("exclude_seller_flags", "include_skus", "exclude_skus"):
        values = _str_list(crowd, key, p[key])
        b[f"use_{key}"] = int(bool(values))
        b[key] = values or [""]


# --- binds per crowd -----------------------------------------------------------------------------

def bind_params(name: str, params: dict | None, ctx: CrowdContext) -> dict[str, Any]:
    """The bind parameters of ``include/sql/crowds/<name>.sql`` for this moment."""
    p = resolve_params(name, params)
    c = name
    b: dict[str, Any] = {"as_of": ctx.as_of_utc}
    i = lambda k, minimum=0: _int(c, k, p[k], minimum=minimum)  # noqa: E731

    def window(start_key: str, end_key: str) -> None:
        b["start"] = _moment(ctx, c, start_key, p[start_key], end=False)
        b["end"] = _moment(ctx, c, end_key, p[end_key], end=True)
        if b["end"] <= b["start"]:
            raise CrowdError(f"crowd {c}: {end_key} is not after {start_key}")

    if name in ("old_customers", "new_customers", "rfm_high_quality", "rfm_low_quality"):
        # "old" is fixed at the reference day; before that day, only what was known at as_of
        b["old_before"] = min(ctx.ref_day_start, ctx.as_of_utc)
    if name == "members":
        b["min_level"] = i("min_level")
    elif name == "promo_high_potential":
        b["intent_since"] = ctx.days_back(i("intent_days"))
        b["bought_since"] = ctx.days_back(365)
    elif name == "category_interest":
        cats = _str_list(c, "categories", p["categories"])
        if not cats:
            raise CrowdError(f"crowd {c}: param categories must name at least one category")
        b["categories"] = cats
        b["intent_since"] = ctx.days_back(i("intent_days"))
    elif name == "cart_or_fav_not_paid":
        lo, hi = i("min_days"), i("max_days")
        if hi < lo:
            raise CrowdError(f"crowd {c}: max_days ({hi}) is less than min_days ({lo})")
        b["band_start"] = ctx.days_back(hi)
        # carted on day D-min_days at the latest; min_days=0 means up to the gate moment
        b["band_end"] = ctx.days_back(lo - 1)     # exclusive; the SQL also caps at as_of
        b["no_purchase_since"] = ctx.days_back(i("no_purchase_days"))
    elif name == "last_push":
        b["intent_since"] = ctx.days_back(i("intent_days"))
    elif name == "presale_buyers_history":
        b["since"] = ctx.days_back(i("lookback_days"))
        b["before"] = min(_moment(ctx, c, "before", p["before"], end=False), ctx.as_of_utc)
    elif name == "deposit_paid_balance_unpaid":
        b["since"] = _moment(ctx, c, "since", p["since"], end=False)
    elif name in ("high_value_repeat", "loyal_repeat_buyers"):
        b["min_orders"] = i("min_orders", 1)
        b["since"] = ctx.days_back(i("lookback_days"))
    elif name in ("member_buyers_365", "active_recent_buyers"):
        b["since"] = ctx.days_back(i("lookback_days"))
    elif name == "lapsed_members_category_intent":
        b["lapsed_since"] = ctx.days_back(i("lapsed_days"))
        b["intent_since"] = ctx.days_back(i("intent_days"))
    elif name == "watching_not_buying":
        b["intent_since"] = ctx.days_back(i("intent_days"))
        b["visit_since"] = ctx.days_back(i("visit_days"))
        b["min_visits"] = i("min_visits", 1)
        b["no_purchase_since"] = ctx.days_back(i("no_purchase_days"))
    elif name in ("buyers_not_members", "paid_in_sale"):
        b["since"] = _moment(ctx, c, "since", p["since"], end=False)
    elif name == "live_stream_fans":
        if not isinstance(p["members_only"], bool):
            raise CrowdError(f"crowd {c}: param members_only must be true or false")
        b["members_only"] = 1 if p["members_only"] else 0
    elif name == "unredeemed_coupon_holders":
        ids = _str_list(c, "coupon_ids", p["coupon_ids"])
        b["any_coupon"] = 0 if ids else 1
        b["coupon_ids"] = ids or [""]       # expanding IN needs one value; any_coupon=1 ignores it
    elif name == "unpaid_orders":
        delay, jhs, win = i("delay_minutes"), i("juhuasuan_delay_minutes"), i("window_minutes", 1)
        b["created_before"] = ctx.as_of_utc - timedelta(minutes=delay)
        b["created_before_jhs"] = ctx.as_of_utc - timedelta(minutes=jhs)
        b["created_since_std"] = ctx.as_of_utc - timedelta(minutes=delay + win)
        b["created_since_jhs"] = ctx.as_of_utc - timedelta(minutes=jhs + win)
        b["created_since"] = min(b["created_since_std"], b["created_since_jhs"])
        _order_filters(c, p, b)
    elif name in ("closed_unpaid_potentials", "last_year_sale_buyers", "sale_buyers", "sale_new_customers"):
        window("start", "end")
    elif name == "new_by_recency":
        band = p["band"]
        if band not in NEW_BY_RECENCY_BANDS:
            raise CrowdError(f"crowd {c}: param band={band!r} must be one of {', '.join(NEW_BY_RECENCY_BANDS)}")
        recent, dormant = i("recent_days"), i("dormant_days")
        if dormant < recent:
            raise CrowdError(f"crowd {c}: dormant_days ({dormant}) is less than recent_days ({recent})")
        edges = {"recent": (ctx.days_back(recent), ctx.days_back(-1)),   # last visit is <= as_of anyway
                 "dormant": (ctx.days_back(dormant), ctx.days_back(recent)),
                 "lapsed": (EPOCH, ctx.days_back(dormant))}
        b["last_visit_from"], b["last_visit_to"] = edges[band]
    if name == "rfm_high_quality":
        b["recent_since"] = ctx.days_back(i("recency_days"))
        b["min_orders"] = i("min_orders", 1)
        b["min_amount"] = _number(c, "min_amount", p["min_amount"])
        b["since"] = ctx.days_back(i("lookback_days"))
    elif name == "rfm_low_quality":
        b["recent_since"] = ctx.days_back(i("recency_days"))
        b["max_amount"] = _number(c, "max_amount", p["max_amount"])
    elif name == "lapsed_high_value_years":
        year = ctx.local_day.year
        b["years_from"] = ctx.day_start(date(year - i("years_back", 1), 1, 1))
        b["years_to"] = ctx.day_start(date(year, 1, 1))
        b["min_amount"] = _number(c, "min_amount", p["min_amount"])
        b["lapsed_since"] = ctx.days_back(i("lapsed_days"))
    elif name == "repurchase_due":
        # the SQL returns candidates; evaluate.py keeps those whose cycle comes due
        b["window_days"] = i("window_days")
        b["min_history_customers"] = i("min_history_customers", 1)
    return b
