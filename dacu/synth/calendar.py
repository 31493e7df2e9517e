"""The synthetic shop's sale calendar and its time-of-day and seasonal curves.

All times here are integer seconds of *sale-local* (Asia/Shanghai) wall time
since 1970-01-01 00:00 local; the writers turn them into naive UTC. Shanghai
has had a fixed +08:00 offset (no DST) since 1991, so the conversion is a
constant shift.

Each year has a 618 and a Double 11 (defaults from the seeds, see
docs/synthetic-shop.md). With a playbook, the sale of the playbook's kind is
shaped by the playbook's phase windows in its own year and the same month-days
in the other years.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

TZ = ZoneInfo("Asia/Shanghai")
UTC_OFFSET_S = 8 * 3600  # Asia/Shanghai: fixed +08:00, no DST since 1991
DAY = 86400
HOUR = 3600
EPOCH = datetime(1970, 1, 1)

# Relative activity by local hour: a morning peak around 10:00 and the evening
# peak 20:00-22:00 (seed 004: best opening ~10:00; sale key moments 20:00/21:00).
HOUR_CURVE = np.array([1.2, 0.6, 0.3, 0.2, 0.15, 0.2, 0.4, 0.8, 1.2, 1.8, 2.4, 2.1,
                       1.7, 1.8, 1.9, 1.9, 1.8, 1.7, 1.6, 2.0, 2.7, 3.0, 2.6, 1.8])

# Order-intensity factor per phase kind inside a sale (normal day = 1 on the hour curve).
ORDER_FACTOR = {"presale": 1.0, "balance": 2.5, "peak": 3.0}
KEY_DAY_FACTOR = 6.0          # 6.18 / 11.11 itself
OPENING_SPIKE = 6.0           # extra weight of the first hour of a window (00:00 / 20:00 openings)
# Store-traffic factor per phase (visits, carts, favourites, new customers).
TRAFFIC_FACTOR = {"warmup": 1.8, "presale": 2.0, "balance": 2.5, "peak": 3.0, "recovery": 1.3}
KEY_DAY_TRAFFIC = 5.0


def local_seconds(moment: datetime | date) -> int:
    """Sale-local seconds of a date (its 00:00) or a datetime (aware: converted to Shanghai)."""
    if isinstance(moment, datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(TZ).replace(tzinfo=None)
        return int((moment - EPOCH).total_seconds())
    return (moment - EPOCH.date()).days * DAY


def local_date(seconds: int) -> date:
    return EPOCH.date() + timedelta(days=seconds // DAY)


Span = tuple[int, int]  # [start, end) in local seconds


@dataclass(frozen=True)
class SaleShape:
    """One sale (618 or Double 11 of one year); windows are [start, end) local seconds."""
    key: str                 # e.g. "618_2025", "d11_2025"
    kind: str                # "618" | "d11"
    year: int
    warmup: tuple[Span, ...]
    presale: tuple[Span, ...]
    balance: tuple[Span, ...]
    peak: tuple[Span, ...]
    recovery: tuple[Span, ...]
    key_day: int             # 00:00 of 6.18 / 11.11 (or the first peak day)

    @property
    def order_windows(self) -> tuple[tuple[str, Span], ...]:
        return tuple([("presale", w) for w in self.presale] + [("balance", w) for w in self.balance]
                     + [("peak", w) for w in self.peak])

    @property
    def start(self) -> int:
        return min(w[0] for ws in (self.warmup, self.presale, self.balance, self.peak) for w in ws)

    @property
    def order_start(self) -> int:
        return min(w[0] for _, w in self.order_windows)

    @property
    def order_end(self) -> int:
        return max(w[1] for _, w in self.order_windows)


def _d(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return local_seconds(datetime(year, month, day, hour, minute))


def default_618(year: int) -> dict[str, Any]:
    # seed 000: presale wave 1 5.24-5.29 (we run deposits to 5.31), balance 6.1-6.3,
    # warm-up 5.20-5.31 and 6.4-6.15, peak 6.16-6.20; seed 004: key day 6.18, afterglow to 7.1.
    return dict(
        warmup=((_d(year, 5, 20), _d(year, 6, 1)), (_d(year, 6, 4), _d(year, 6, 16))),
        presale=((_d(year, 5, 24, 20), _d(year, 6, 1)),),
        balance=((_d(year, 6, 1), _d(year, 6, 4)),),
        peak=((_d(year, 6, 16), _d(year, 6, 21)),),
        recovery=((_d(year, 6, 21), _d(year, 7, 2)),),
        key_day=_d(year, 6, 18),
    )


def default_d11(year: int) -> dict[str, Any]:
    # seed 001: presale 10.20-11.10, warm-up 11.1-11.10, peak 11.11, after-sale 11.12-11.25;
    # we put the first balance wave on 11.1-11.3 and the second sale wave 11.10 20:00-11.11.
    return dict(
        warmup=((_d(year, 10, 15), _d(year, 11, 1)), (_d(year, 11, 4), _d(year, 11, 10, 20))),
        presale=((_d(year, 10, 20, 20), _d(year, 11, 1)),),
        balance=((_d(year, 11, 1), _d(year, 11, 4)),),
        peak=((_d(year, 11, 10, 20), _d(year, 11, 12)),),
        recovery=((_d(year, 11, 12), _d(year, 11, 26)),),
        key_day=_d(year, 11, 11),
    )


def _shift_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 Feb in a non-leap year
        return moment.replace(year=moment.year + years, day=28)


@dataclass(frozen=True)
class PlaybookShape:
    """The phase windows of a playbook as naive local datetimes, ready to shift by years."""
    kind: str
    year: int
    windows: dict[str, tuple[tuple[datetime, datetime], ...]]
    key_day: date

    def for_year(self, year: int) -> dict[str, Any]:
        dy = year - self.year
        out: dict[str, Any] = {}
        for phase in ("warmup", "presale", "balance", "peak", "recovery"):
            spans = []
            for start, end in self.windows.get(phase, ()):
                # playbook windows are inclusive of their end minute
                s = local_seconds(_shift_years(start, dy))
                e = local_seconds(_shift_years(end, dy)) + 60
                spans.append((s, e))
            out[phase] = tuple(spans)
        kd = _shift_years(datetime.combine(self.key_day, datetime.min.time()), dy)
        out["key_day"] = local_seconds(kd)
        return out


def playbook_shape(playbook: Any) -> PlaybookShape:
    """Read the phase windows of a loaded ``dacu.playbook.Playbook``."""
    windows: dict[str, list[tuple[datetime, datetime]]] = {}
    for phase in playbook.phases:
        for w in phase.windows:
            start = w.start.astimezone(TZ).replace(tzinfo=None)
            end = w.end.astimezone(TZ).replace(tzinfo=None)
            windows.setdefault(phase.id, []).append((start, end))
    anchor_list = windows.get("peak") or windows.get("balance") or windows.get("presale")
    if anchor_list:
        anchor = min(s for s, _ in anchor_list)
    else:
        anchor = datetime.combine(playbook.sale.window.start, datetime.min.time())
    kind = "618" if 3 <= anchor.month <= 8 else "d11"
    year = anchor.year
    key = date(year, 6, 18) if kind == "618" else date(year, 11, 11)
    peaks = windows.get("peak", [])
    if not any(s.date() <= key <= e.date() for s, e in peaks):
        key = anchor.date()
    return PlaybookShape(kind=kind, year=year,
                         windows={k: tuple(sorted(v)) for k, v in windows.items()}, key_day=key)


@dataclass(frozen=True)
class ShopCalendar:
    start: int                        # first local day 00:00
    end: int                          # exclusive: the day after --end, 00:00
    sales: tuple[SaleShape, ...]
    # derived curves (built in build_calendar)
    traffic_cdf: np.ndarray = field(repr=False)      # cumulative traffic weight per local hour of the span
    sale_hours: tuple[np.ndarray, ...] = field(repr=False)   # per sale: local second of each order hour
    sale_cdf: tuple[np.ndarray, ...] = field(repr=False)     # per sale: cumulative order weight per hour
    sale_spike: tuple[np.ndarray, ...] = field(repr=False)   # per sale: hour is a window opening
    sale_kind: tuple[np.ndarray, ...] = field(repr=False)    # per sale: 0 presale, 1 balance, 2 peak
    intent_cdf: tuple[np.ndarray, ...] = field(repr=False)   # per sale: cumulative traffic weight over its hours
    intent_hours: tuple[np.ndarray, ...] = field(repr=False)

    @property
    def n_hours(self) -> int:
        return (self.end - self.start) // HOUR


def _clip(spans: tuple[Span, ...], lo: int, hi: int) -> tuple[Span, ...]:
    out = [(max(s, lo), min(e, hi)) for s, e in spans]
    return tuple((s, e) for s, e in out if e > s)


def build_calendar(end_day: date, years: int, shape: PlaybookShape | None = None) -> ShopCalendar:
    """The span [end_day - years + 1 day, end_day] and every sale that overlaps it."""
    first = _shift_years(datetime.combine(end_day, datetime.min.time()), -years).date() + timedelta(days=1)
    start, end = local_seconds(first), local_seconds(end_day) + DAY
    sales: list[SaleShape] = []
    for year in range(first.year, end_day.year + 1):
        for kind, default in (("618", default_618), ("d11", default_d11)):
            parts = shape.for_year(year) if shape is not None and shape.kind == kind else default(year)
            clipped = {k: _clip(v, start, end) for k, v in parts.items() if k != "key_day"}
            if not any(clipped[k] for k in ("presale", "balance", "peak")):
                continue
            sales.append(SaleShape(key=f"{kind}_{year}", kind=kind, year=year, key_day=parts["key_day"], **clipped))
    sales.sort(key=lambda s: s.order_start)

    n_hours = (end - start) // HOUR
    hour_starts = start + np.arange(n_hours, dtype=np.int64) * HOUR
    hod = (hour_starts // HOUR) % 24
    traffic = HOUR_CURVE[hod].copy()
    weekday = ((hour_starts // DAY) + 3) % 7          # 1970-01-01 was a Thursday; 5, 6 = Sat, Sun
    traffic[weekday >= 5] *= 1.1
    factor = np.ones(n_hours)
    for sale in sales:
        for phase in ("recovery", "warmup", "presale", "balance", "peak"):
            for s, e in getattr(sale, phase):
                a, b = (s - start) // HOUR, (e - start + HOUR - 1) // HOUR
                factor[a:b] = np.maximum(factor[a:b], TRAFFIC_FACTOR[phase])
        a = (sale.key_day - start) // HOUR
        if 0 <= a < n_hours:
            factor[max(a, 0):a + 24] = np.maximum(factor[max(a, 0):a + 24], KEY_DAY_TRAFFIC)
    traffic *= factor
    traffic_cdf = np.cumsum(traffic)

    sale_hours, sale_cdf, sale_spike, sale_kind, intent_cdf, intent_hours = [], [], [], [], [], []
    for sale in sales:
        hours_l, w_l, spike_l, kind_l = [], [], [], []
        for kind, (s, e) in sale.order_windows:
            hs = np.arange(s - s % HOUR, e, HOUR, dtype=np.int64)
            w = HOUR_CURVE[(hs // HOUR) % 24] * ORDER_FACTOR[kind]
            on_key = (hs >= sale.key_day) & (hs < sale.key_day + DAY)
            w[on_key] *= KEY_DAY_FACTOR / ORDER_FACTOR[kind]
            spike = np.zeros(len(hs), dtype=bool)
            spike[0] = True
            w[0] += OPENING_SPIKE * w[0]
            hours_l.append(hs), w_l.append(w), spike_l.append(spike)
            kind_l.append(np.full(len(hs), ("presale", "balance", "peak").index(kind), dtype=np.int8))
        hs = np.concatenate(hours_l)
        order = np.argsort(hs, kind="stable")
        sale_hours.append(hs[order])
        sale_cdf.append(np.cumsum(np.concatenate(w_l)[order]))
        sale_spike.append(np.concatenate(spike_l)[order])
        sale_kind.append(np.concatenate(kind_l)[order])
        # intent (visits/carts/favourites/coupon claims) follows traffic over warm-up to the peak's end
        a, b = (sale.start - start) // HOUR, (sale.order_end - start + HOUR - 1) // HOUR
        intent_hours.append(hour_starts[a:b])
        intent_cdf.append(np.cumsum(traffic[a:b]))
    return ShopCalendar(start=start, end=end, sales=tuple(sales), traffic_cdf=traffic_cdf,
                        sale_hours=tuple(sale_hours), sale_cdf=tuple(sale_cdf), sale_spike=tuple(sale_spike), sale_kind=tuple(sale_kind),
                        intent_cdf=tuple(intent_cdf), intent_hours=tuple(intent_hours))
