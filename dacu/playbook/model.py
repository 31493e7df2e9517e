"""The playbook model: one sale's calendar, strategies, coupons and settings.

Shapes and types are checked here (pydantic, unknown keys refused); rules
that relate one part of the file to another (a strategy's phase exists, its
moments fall in the phase's windows, ...) live in ``rules.py`` so that every
broken item can be reported at once. Datetimes are aware, in the sale's
timezone, which the loader passes as validation context ``{"tz": ZoneInfo}``.
The format is documented in ``docs/playbook.md``.
"""
from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, BeforeValidator, PrivateAttr, ValidationInfo, model_validator

from dacu.playbook import calendar
from dacu.playbook.timeparse import (
    DEFAULT_TIMEZONE, context_tz, parse_date, parse_date_or_datetime, parse_local_datetime, parse_time_of_day,
)

# ---- value types -------------------------------------------------------------------------------

LocalDateTime = Annotated[datetime, BeforeValidator(lambda v, info: parse_local_datetime(v, context_tz(info.context)))]
Day = Annotated[date, BeforeValidator(lambda v: parse_date(v))]
DayOrLocalDateTime = Annotated[
    date | datetime, BeforeValidator(lambda v, info: parse_date_or_datetime(v, context_tz(info.context)))]
TimeOfDay = Annotated[time, BeforeValidator(lambda v: parse_time_of_day(v))]

SALE_ID = r"^[a-z][a-z0-9_]{2,40}$"
STRATEGY_ID = r"^[a-z][a-z0-9_]{2,60}$"
ITEM_ID = r"^[a-z][a-z0-9_]{0,60}$"

Platform = Literal["tmall", "taobao", "jd"]
PhaseId = Literal["readiness", "warmup", "presale", "balance", "peak", "recovery"]
PHASE_IDS: tuple[str, ...] = PhaseId.__args__  # type: ignore[attr-defined]
Scene = Literal["promo_preferred", "member", "fan", "dedicated_service", "taobao_group", "transaction",
                "logistics", "automation"]
Kind = Literal["crowd_task", "scene_task", "payment_reminder", "notice"]
CROWD_KINDS = ("crowd_task", "payment_reminder", "notice")
Goal = Literal["store_visits", "presale_rate", "cart_rate", "conversion", "member_acquisition", "revisit_rate",
               "member_seeding", "fan_seeding", "promo_seeding", "recruiting", "presale_seeding",
               "old_customer_retention", "payment_rate", "satisfaction", "none"]
ChannelName = Literal["sms", "email", "inapp"]
CouponKind = Literal["store", "member", "repurchase", "new_customer", "compensation", "shopping_credit"]


class _Model(BaseModel):
    # frozen: a loaded playbook is shared (see loader cache) and must not change under its readers
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, populate_by_name=True, frozen=True)


# ---- sale and calendar -------------------------------------------------------------------------

class DayRange(_Model):
    start: Day
    end: Day


class Sale(_Model):
    id: str = Field(pattern=SALE_ID)
    name: str
    platform: Platform
    timezone: str = DEFAULT_TIMEZONE
    reference_day: Day
    window: DayRange
    to_confirm: bool = False
    sources: list[str] = []


class Window(_Model):
    """One wave of a phase: [start, end], both inclusive, sale-local."""
    id: str = Field(pattern=ITEM_ID)
    name: str
    start: LocalDateTime
    end: LocalDateTime
    to_confirm: bool = False

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment <= self.end


class Phase(_Model):
    id: PhaseId
    name: str
    windows: list[Window] = Field(min_length=1)

    @property
    def start(self) -> datetime:
        return min(w.start for w in self.windows)

    @property
    def end(self) -> datetime:
        return max(w.end for w in self.windows)

    @property
    def to_confirm(self) -> bool:
        return any(w.to_confirm for w in self.windows)

    def window(self, window_id: str) -> Window:
        for w in self.windows:
            if w.id == window_id:
                return w
        raise KeyError(f"phase {self.id} has no window {window_id!r}")

    def contains(self, moment: datetime) -> bool:
        return any(w.contains(moment) for w in self.windows)

    def days(self) -> list[date]:
        """Sale-local days from the first start day to the last end day, inclusive."""
        return calendar.day_range(self.start.date(), self.end.date())


# ---- strategies --------------------------------------------------------------------------------

class When(_Model):
    """Exactly one of three forms (``rules.py`` enforces which keys go together):

    1. ``at``: fixed moments;
    2. ``from``/``to`` dates + ``time`` (+ ``smart``): every day at that time;
    3. ``from``/``to`` datetimes + ``every_minutes`` (+ ``after_order_minutes``):
       event-driven checks inside a window.
    """
    at: list[LocalDateTime] | None = None
    from_: DayOrLocalDateTime | None = Field(default=None, alias="from")
    to: DayOrLocalDateTime | None = None
    time: TimeOfDay | None = None
    smart: bool = False
    after_order_minutes: int | None = Field(default=None, ge=0, le=10080)
    every_minutes: int | None = Field(default=None, ge=1, le=1440)

    _tz: ZoneInfo = PrivateAttr(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))
    _moments: tuple[datetime, ...] | None = PrivateAttr(default=None)   # the model is frozen: safe to keep

    @model_validator(mode="after")
    def _keep_tz(self, info: ValidationInfo) -> When:
        # form 2 combines dates with a time of day: it needs the sale's zone later on
        self._tz = context_tz(info.context)
        return self

    @property
    def form(self) -> int:
        if self.at is not None:
            return 1
        if self.time is not None:
            return 2
        return 3

    def moments(self) -> list[datetime]:
        if self._moments is None:
            self._moments = tuple(calendar.when_moments(self, self._tz))
        return list(self._moments)


class CrowdRef(_Model):
    base: str
    params: dict[str, Any] = {}


class Crowd(CrowdRef):
    intersect: list[CrowdRef] = []
    exclude: list[CrowdRef] = []


class Material(_Model):
    template: str
    subject: str | None = None          # email subject line
    coupon: str | None = None
    products: list[str] = []


SellerFlag = Literal["red", "yellow", "green", "blue", "purple"]   # 卖家旗帜, as the importers map them
SELLER_FLAGS: tuple[str, ...] = SellerFlag.__args__  # type: ignore[attr-defined]
SkuId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^\S(.*\S)?$")]
# the unpaid_orders crowd params the filters set (rules.py refuses them in crowd.params)
FILTER_PARAMS = ("min_amount", "max_amount", "exclude_seller_flags", "include_skus", "exclude_skus")
FILTERED_CROWD = "unpaid_orders"


class ReminderFilters(_Model):
    """The order filters of a payment reminder (seed 004 催付设置), applied to each unpaid order.

    ``min_amount``/``max_amount``: the order's amount in yuan, both bounds inclusive
    (实付金额 "1 ~ 100元"); ``exclude_seller_flags``: orders carrying one of these
    flags are not reminded (屏蔽卖家标记; an order without a flag always passes);
    ``include_skus``: the order has at least one of these SKUs (指定商品);
    ``exclude_skus``: the order has none of them (排除指定商品). Absent = no filter.
    """
    min_amount: float | None = Field(default=None, ge=0)
    max_amount: float | None = Field(default=None, ge=0)
    exclude_seller_flags: list[SellerFlag] = []
    include_skus: list[SkuId] = []
    exclude_skus: list[SkuId] = []

    def crowd_params(self) -> dict[str, Any]:
        """The unpaid_orders params these filters set (unset filters are left out)."""
        return {k: v for k, v in self.model_dump().items() if v not in (None, [])}


class Caps(_Model):
    per_customer_per_day: int | None = Field(default=None, ge=0)
    per_customer_per_sale: int | None = Field(default=None, ge=0)


class Strategy(_Model):
    id: str = Field(pattern=STRATEGY_ID)
    name: str
    scene: Scene
    phase: str
    wave: str | None = None
    kind: Kind
    goal: Goal = "none"
    description: str = ""
    source: str = ""
    when: When
    crowd: Crowd | None = None
    material: Material | None = None
    channels: list[ChannelName] = []
    caps: Caps | None = None
    filters: ReminderFilters | None = None     # payment_reminder on unpaid_orders only (rules.py)
    holdout_pct: int = Field(default=0, ge=0, le=50)
    link: str | None = None
    to_confirm: bool = False

    def moments(self) -> list[datetime]:
        """Aware, sale-local, sorted."""
        return self.when.moments()

    def with_filters_applied(self) -> Strategy:
        """This strategy with ``filters`` folded into its ``unpaid_orders`` crowd params.

        The loader does this once, after the rules checked the file as written, so
        every reader of ``crowd`` (segment, approval, budget, preview) applies the
        filters without knowing about them and the segment snapshot records them.
        Idempotent; a strategy without filters is returned as is.
        """
        if self.filters is None or self.crowd is None or self.crowd.base != FILTERED_CROWD:
            return self
        params = {**self.crowd.params, **self.filters.crowd_params()}
        if params == self.crowd.params:
            return self
        return self.model_copy(update={"crowd": self.crowd.model_copy(update={"params": params})})

    def moments_on(self, day: date) -> list[datetime]:
        return [m for m in self.moments() if m.date() == day]

    def window_on(self, day: date) -> tuple[datetime, datetime] | None:
        """Form 3 only: that day's slice [start, end) of the window; None otherwise."""
        if self.when.form != 3:
            return None
        return calendar.window_slice(self.when.from_, self.when.to, day)


# ---- coupons and settings ----------------------------------------------------------------------

class Coupon(_Model):
    id: str = Field(pattern=ITEM_ID)
    name: str
    kind: CouponKind
    face_value: float = Field(gt=0)
    threshold: float = Field(default=0, ge=0)
    budget: float = Field(ge=0)
    valid_from: LocalDateTime
    valid_to: LocalDateTime
    issue_deadline: LocalDateTime


class QuietHours(_Model):
    start: TimeOfDay
    end: TimeOfDay

    def contains(self, t: time) -> bool:
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end   # wraps past midnight


Carrier = Literal["china_mobile", "china_unicom", "china_telecom"]
CARRIERS: tuple[str, ...] = Carrier.__args__  # type: ignore[attr-defined]


def _mobile_number(value: Any) -> str:
    # the message never repeats the number: it is personal data (dacu.pii)
    text = str(value).strip()
    if not (len(text) == 11 and text.isdigit() and text[0] == "1" and text[1] in "3456789"):
        raise ValueError("is not a mainland mobile number (11 digits starting 13..19)")
    return text


MobileNumber = Annotated[str, BeforeValidator(_mobile_number)]


class SmsChannel(_Model):
    signature: str
    unsubscribe_suffix: str
    unit_price: float = Field(ge=0)
    quiet_hours: QuietHours | None = None
    daily_cap: int = Field(default=1, ge=0)
    # readiness gate 5 (seed 004: test China Mobile / Unicom / Telecom numbers before the sale)
    test_numbers: dict[Carrier, MobileNumber] = {}


class EmailChannel(_Model):
    sender: str
    quiet_hours: QuietHours | None = None
    daily_cap: int = Field(default=1, ge=0)


class InappChannel(_Model):
    quiet_hours: QuietHours | None = None
    daily_cap: int = Field(default=2, ge=0)


class Channels(_Model):
    sms: SmsChannel | None = None
    email: EmailChannel | None = None
    inapp: InappChannel | None = None


class Readiness(_Model):
    """Settings of the readiness gates (docs/readiness.md)."""
    history_days: int = Field(default=365, ge=0)
    freshness_hours: int = Field(default=24, ge=0)
    coupon_warn_days: int = Field(default=3, ge=0)
    budget_margin_pct: int = Field(default=20, ge=0, le=100)
    # history: a day below gap_ratio x the trailing median of gap_median_days days is suspect
    gap_ratio: float = Field(default=0.2, ge=0, le=1)
    gap_median_days: int = Field(default=28, ge=3, le=366)
    max_unresolved_rejects_pct: float = Field(default=1.0, ge=0, le=100)
    # SMS template lint (also run by `dacu playbook lint`)
    banned_words_file: str = "include/readiness/banned_words.txt"
    sms_max_segments: int = Field(default=2, ge=1, le=10)
    per_recipient_variables: list[str] = ["nick"]
    variable_max_length: dict[str, int] = {"nick": 20}
    link_base: str = "https://s.example.com"
    # carrier test sends: how long to wait for each delivery receipt
    carrier_receipt_timeout_s: int = Field(default=120, ge=1, le=3600)
    carrier_test_attempts: int = Field(default=2, ge=1, le=5)   # a carrier fails when every attempt fails
    # 30-day lowest price rule
    planned_prices_file: str | None = None
    lowest_price_activities_file: str = "include/readiness/lowest_price_activities.yaml"
    lowest_price_days: int = Field(default=30, ge=1, le=365)
    # approvals: a send at or above either threshold waits for a person (None: no threshold)
    approval_min_recipients: int | None = Field(default=50000, ge=0)
    approval_min_cost: float | None = Field(default=2000.0, ge=0)


class Metrics(_Model):
    active_rv_days: int = Field(default=90, ge=1)
    # uplift: a customer of a gate run converts when they pay within this many days of the gate moment
    attribution_days: int = Field(default=3, ge=1, le=60)


# ---- the file ----------------------------------------------------------------------------------

class Playbook(_Model):
    path: Path | None = None
    sale: Sale
    phases: list[Phase]
    strategies: list[Strategy]
    coupons: list[Coupon] = []
    channels: Channels = Field(default_factory=Channels)
    readiness: Readiness = Field(default_factory=Readiness)
    metrics: Metrics = Field(default_factory=Metrics)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.sale.timezone)

    def phase(self, phase_id: str) -> Phase:
        for p in self.phases:
            if p.id == phase_id:
                return p
        raise KeyError(f"{self.sale.id}: no phase {phase_id!r} (phases: {', '.join(p.id for p in self.phases)})")

    def strategy(self, strategy_id: str) -> Strategy:
        for s in self.strategies:
            if s.id == strategy_id:
                return s
        raise KeyError(f"{self.sale.id}: no strategy {strategy_id!r}")

    def coupon(self, coupon_id: str) -> Coupon:
        for c in self.coupons:
            if c.id == coupon_id:
                return c
        raise KeyError(f"{self.sale.id}: no coupon {coupon_id!r}")

    def strategies_in(self, phase_id: str) -> list[Strategy]:
        """The phase's strategies in file order."""
        return [s for s in self.strategies if s.phase == phase_id]

    def gate_times(self, phase_id: str) -> list[time]:
        return calendar.gate_times(self.strategies_in(phase_id))

    def due(self, phase_id: str, day: date) -> dict[time, list[str]]:
        return calendar.due(self.strategies_in(phase_id), day)

    def first_moment(self, phase_id: str) -> datetime | None:
        moments = [m for s in self.strategies_in(phase_id) for m in s.moments()[:1]]
        return min(moments, default=None)

    def last_moment(self, phase_id: str) -> datetime | None:
        moments = [m for s in self.strategies_in(phase_id) for m in s.moments()[-1:]]
        return max(moments, default=None)
