"""The generative model of the synthetic shop, one block of customers at a time.

A block is ``BLOCK`` consecutive customers with its own random generator
(``SeedSequence(seed, spawn_key=(1, block))``), so a full block's customers
depend only on (seed, calendar, block index): the customers, orders and events
of a 20k run are exactly those of the first 20k customers of a 1M run, and the
writer's batching cannot change anything. Everything is vectorised with numpy.

Output columns are typed numpy arrays; times are int64 *sale-local* seconds
(``NULL`` for missing), money int64 cents. The writers format them per backend.
The chosen rates are documented in docs/synthetic-shop.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dacu.synth.calendar import DAY, HOUR, HOUR_CURVE, ShopCalendar
from dacu.synth.catalogue import Catalogue, CouponSet

BLOCK = 10_000                      # customers per random block (part of the model: do not change)
NULL = np.iinfo(np.int64).min       # missing time / money / integer
ORDER_ID_BASE = 3 * 10**12          # order id = base + customer index * 1000 + k (k-th order of the customer)
MAX_ORDERS_PER_CUSTOMER = 999

# Real carrier prefixes (China Mobile / Unicom / Telecom) and rough market shares.
MOBILE_PREFIXES = {
    "cmcc": ([134, 135, 136, 137, 138, 139, 147, 150, 151, 152, 157, 158, 159, 178, 182, 183, 184, 187, 188, 198],
             0.58),
    "unicom": ([130, 131, 132, 145, 155, 156, 166, 175, 176, 185, 186], 0.26),
    "telecom": ([133, 149, 153, 173, 177, 180, 181, 189, 191, 199], 0.16),
}
ALL_PREFIXES = np.array([p for ps, _ in MOBILE_PREFIXES.values() for p in ps], dtype=np.int64)
PREFIX_P = np.array([share / len(ps) for ps, share in MOBILE_PREFIXES.values() for _ in ps])
EMAIL_DOMAINS = np.array(["qq.com", "163.com", "126.com", "sina.com", "gmail.com", "foxmail.com",
                          "hotmail.com", "139.com", "outlook.com", "yeah.net"])
EMAIL_P = np.array([0.42, 0.20, 0.08, 0.05, 0.07, 0.06, 0.04, 0.04, 0.02, 0.02])
SYLLABLES = np.array(["wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou", "xu", "sun",
                      "ma", "zhu", "hu", "guo", "he", "lin", "luo", "gao", "xiao", "mei", "hua", "ying",
                      "jing", "yu", "lan", "xin", "yan", "fei", "ming", "hao", "tian", "yun", "qing", "le"])
PROVINCES = np.array(["广东", "浙江", "江苏", "上海", "北京", "山东", "河南", "四川", "福建", "湖北", "湖南",
                      "安徽", "河北", "辽宁", "陕西", "重庆", "天津", "江西", "广西", "云南", "山西", "黑龙江",
                      "吉林", "贵州", "新疆", "内蒙古", "甘肃", "海南", "宁夏", "青海", "西藏"])
PROVINCE_W = np.array([13, 10, 9, 6, 5, 6, 5, 5, 5, 4, 4, 4, 4, 3, 3, 3, 2, 2, 2, 2, 1.5, 1.5, 1.2, 1.2,
                       0.8, 0.8, 0.8, 0.6, 0.4, 0.3, 0.1])
SELLER_FLAGS = np.array(["red", "yellow", "green", "blue", "purple"])

STATUS = np.array(["unpaid", "deposit_paid", "paid", "closed", "refunded"])
UNPAID, DEPOSIT_PAID, PAID, CLOSED, REFUNDED = range(5)
SOURCE = np.array(["normal", "juhuasuan", "presale", "live", "other"])
NORMAL, JUHUASUAN, PRESALE, LIVE = range(4)
EVENT_TYPE = np.array(["visit", "cart", "favourite", "coupon_claim"])
VISIT, CART, FAV, CLAIM = range(4)


@dataclass(frozen=True)
class Context:
    """What every block shares: the calendar, catalogue, coupons and seed-derived constants."""
    seed: int
    n_customers: int
    cal: ShopCalendar
    cat: Catalogue
    coupons: CouponSet
    platform: str
    mix: tuple[int, ...]        # multipliers/offsets of the id bijections (mobile, email, qq)


def make_mix(rng: np.random.Generator) -> tuple[int, ...]:
    """Multipliers coprime to 10 (so ``(i*a+b) mod 10^k`` is a bijection) and offsets."""
    out = []
    for modulus in (10**8, 10**7, 10**9):
        a = int(rng.integers(modulus // 10, modulus)) | 1
        while a % 5 == 0:
            a += 2
        out += [a, int(rng.integers(0, modulus))]
    return tuple(out)


def block_rng(seed: int, block: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(1, block))))


# ---- small vector helpers ----------------------------------------------------------------------

def _seg_starts(counts: np.ndarray) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)


def _rank_in_group(group: np.ndarray) -> np.ndarray:
    """0,1,2.. within runs of equal values of a sorted array."""
    n = len(group)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.ones(n, dtype=bool)
    new[1:] = group[1:] != group[:-1]
    starts = np.flatnonzero(new)
    run_id = np.cumsum(new) - 1
    return np.arange(n, dtype=np.int64) - starts[run_id]


def _pick(rng: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    """Indices drawn with cumulative weights ``cdf`` (need not be normalised)."""
    return np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), len(cdf) - 1)


_HOUR_CDF = np.cumsum(HOUR_CURVE)


def _time_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    return _pick(rng, _HOUR_CDF, n) * HOUR + rng.integers(0, HOUR, n)


def _traffic_times(rng: np.random.Generator, cal: ShopCalendar, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """One time per row in [lo, hi) following the store's traffic curve (hours) of the span."""
    cdf = cal.traffic_cdf
    n_h = len(cdf)
    a = np.clip((lo - cal.start) // HOUR, 0, n_h - 1)
    b = np.clip((hi - cal.start) // HOUR, 0, n_h - 1)
    base = np.where(a > 0, cdf[a - 1], 0.0)
    u = base + rng.random(len(lo)) * (cdf[b] - base)
    h = np.minimum(np.searchsorted(cdf, u, side="right"), n_h - 1)
    t = cal.start + h * HOUR + rng.integers(0, HOUR, len(lo))
    return np.clip(t, lo, np.maximum(hi - 1, lo))


def _sale_times(rng: np.random.Generator, cal: ShopCalendar, s: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Order times inside sale ``s`` (opening hours spike in their first minutes) and the window kind."""
    h = _pick(rng, cal.sale_cdf[s], n)
    spike = cal.sale_spike[s][h]
    within = np.where(spike, np.minimum(rng.exponential(600.0, n), HOUR - 1).astype(np.int64),
                      rng.integers(0, HOUR, n))
    return cal.sale_hours[s][h] + within, cal.sale_kind[s][h]


def _mix_str(idx: np.ndarray, a: int, b: int, modulus: int, width: int) -> np.ndarray:
    return np.strings.zfill(((idx * a + b) % modulus).astype(str), width)


# ---- the model ---------------------------------------------------------------------------------

def generate_block(ctx: Context, block: int) -> dict[str, dict[str, np.ndarray]]:
    """All rows of one block of customers, per table (events without ids: the caller numbers them)."""
    rng = block_rng(ctx.seed, block)
    cal, cat = ctx.cal, ctx.cat
    i0 = block * BLOCK
    n = min(BLOCK, ctx.n_customers - i0)
    gidx = np.arange(i0, i0 + n, dtype=np.int64)

    # -- who they are: loyalty drives orders, membership, fandom (Pareto-like spend)
    loyal = rng.beta(0.55, 1.5, n)
    old = rng.random(n) < 0.30                     # known before the span (history older than 3 years)
    first_seen = np.where(
        old,
        cal.start - rng.integers(DAY, 3 * 365 * DAY, n),
        _traffic_times(rng, cal, np.full(n, cal.start), np.full(n, cal.end)),
    )
    active_from = np.maximum(first_seen, cal.start)
    churn = active_from + (rng.exponential(1.0, n) * (300 + 2800 * loyal) * DAY).astype(np.int64)
    active_to = np.minimum(churn, cal.end)
    buyer = rng.random(n) >= 0.12                  # 12% browse, follow or join but never order by themselves

    fan_since = np.where(rng.random(n) < 0.12 + 0.65 * loyal,
                         active_from + (rng.exponential(40.0, n) * DAY).astype(np.int64), NULL)
    fan_since[fan_since >= cal.end] = NULL
    live_fan_since = np.where(rng.random(n) < 0.01 + 0.08 * loyal,
                              active_from + (rng.exponential(90.0, n) * DAY).astype(np.int64), NULL)
    live_fan_since[live_fan_since >= cal.end] = NULL

    # -- repurchase streams: each a SKU bought again every ~cycle days while the habit lasts
    n_streams = np.where(buyer, 1 + rng.poisson(7.0 * loyal), 0)
    s_cust = np.repeat(np.arange(n), n_streams)
    s_rank = _rank_in_group(s_cust)
    ns = len(s_cust)
    s_sku = _pick(rng, cat.popularity_cdf, ns)
    s_cycle = cat.cycle_days[s_sku]
    s_loyal = loyal[s_cust]
    q = 0.25 + 0.73 * s_loyal ** 0.35               # chance the habit continues after each purchase
    s_count = np.where(s_cycle > 0, np.minimum(rng.geometric(1.0 - q), 300), 1)
    slack = 1.0 + 1.0 * (1.0 - s_loyal)            # casual buyers stretch the cycle
    gap_mean = np.where(s_cycle > 0, s_cycle, 365) * slack * DAY
    s_old = old[s_cust]
    first_delay = np.where(
        s_rank > 0, rng.exponential(120.0, ns) * DAY,
        np.where(s_old, rng.random(ns) * gap_mean,
                 np.where(rng.random(ns) < 0.6, rng.integers(120, 2400, ns), rng.exponential(10.0, ns) * DAY)))
    s_start = active_from[s_cust] + first_delay.astype(np.int64)
    o_stream = np.repeat(np.arange(ns), s_count)
    gaps = rng.gamma(5.0, 0.2, len(o_stream)) * gap_mean[o_stream]
    first_in_stream = _seg_starts(s_count)
    gaps[first_in_stream] = 0.0
    cum = np.cumsum(gaps)
    cum -= np.repeat(cum[first_in_stream], s_count)
    o_time = s_start[o_stream] + cum.astype(np.int64)
    o_cust = s_cust[o_stream]
    keep = o_time < active_to[o_cust]
    o_time, o_cust, o_sku = o_time[keep], o_cust[keep], s_sku[o_stream][keep]
    # a habitual order keeps its day but gets a realistic hour (daily curve)
    o_time = o_time - o_time % DAY + _time_of_day(rng, len(o_time))
    o_sale = np.full(len(o_time), -1, dtype=np.int64)
    o_kind = np.full(len(o_time), -1, dtype=np.int8)

    # -- sales: orders pulled forward into the sale, plus extra deal-hunting orders
    extra_c, extra_t, extra_s, extra_k = [], [], [], []
    for s, sale in enumerate(cal.sales):
        pull = (o_time >= sale.order_start - 25 * DAY) & (o_time < sale.order_start) & (o_sale < 0)
        pull &= rng.random(len(o_time)) < 0.35
        t, k = _sale_times(rng, cal, s, int(pull.sum()))
        o_time[pull], o_sale[pull], o_kind[pull] = t, s, k
        eligible = (first_seen < sale.order_end) & (churn > sale.order_start)
        lam = np.where(eligible, np.where(buyer, 0.15 + 2.0 * loyal, 0.03), 0.0)
        cnt = rng.poisson(lam)
        c = np.repeat(np.arange(n), cnt)
        t, k = _sale_times(rng, cal, s, len(c))
        extra_c.append(c), extra_t.append(t), extra_s.append(np.full(len(c), s)), extra_k.append(k)
    o_cust = np.concatenate([o_cust] + extra_c)
    o_time = np.concatenate([o_time] + extra_t)
    o_sale = np.concatenate([o_sale] + extra_s)
    o_kind = np.concatenate([o_kind] + extra_k)
    n_extra = len(o_cust) - len(o_sku)
    o_sku = np.concatenate([o_sku, _pick(rng, cat.popularity_cdf, n_extra)])
    inside = (o_time >= cal.start) & (o_time < cal.end)
    o_cust, o_time, o_sale, o_kind, o_sku = (a[inside] for a in (o_cust, o_time, o_sale, o_kind, o_sku))

    order = np.lexsort((o_time, o_cust))
    o_cust, o_time, o_sale, o_kind, o_sku = (a[order] for a in (o_cust, o_time, o_sale, o_kind, o_sku))
    o_k = _rank_in_group(o_cust)
    keep = o_k <= MAX_ORDERS_PER_CUSTOMER
    o_cust, o_time, o_sale, o_kind, o_sku, o_k = (a[keep] for a in (o_cust, o_time, o_sale, o_kind, o_sku, o_k))
    no = len(o_cust)
    order_num = ORDER_ID_BASE + gidx[o_cust] * 1000 + o_k
    in_sale = o_sale >= 0

    # -- items: 1-3 lines, distinct SKUs, sale discounts deeper
    n_lines = 1 + (rng.random(no) < 0.35).astype(np.int64) + (rng.random(no) < 0.10).astype(np.int64)
    l_order = np.repeat(np.arange(no), n_lines)
    l_no = _rank_in_group(l_order) + 1
    l_sku = _pick(rng, cat.popularity_cdf, len(l_order))
    first_line = _seg_starts(n_lines)
    l_sku[first_line] = o_sku
    n_sku = len(cat)
    for _ in range(3):   # make the lines of one order distinct SKUs
        prev = np.zeros(len(l_order), dtype=bool)
        prev[1:] = (l_order[1:] == l_order[:-1]) & (l_sku[1:] == l_sku[:-1])
        prev2 = np.zeros(len(l_order), dtype=bool)
        prev2[2:] = (l_order[2:] == l_order[:-2]) & (l_sku[2:] == l_sku[:-2])
        dup = prev | prev2
        if not dup.any():
            break
        l_sku[dup] = (l_sku[dup] + 1 + rng.integers(0, n_sku - 1, int(dup.sum()))) % n_sku
    sale_disc = np.array([70, 75, 80, 85, 90])
    normal_disc = np.array([85, 90, 95, 100, 100, 100])
    disc = np.where(in_sale[l_order], sale_disc[rng.integers(0, 5, len(l_order))],
                    normal_disc[rng.integers(0, 6, len(l_order))])
    l_price = (cat.price_cents[l_sku] * disc + 500) // 1000 * 10      # whole 0.1 yuan
    l_qty = 1 + (rng.random(len(l_order)) < 0.25).astype(np.int64) + (rng.random(len(l_order)) < 0.08)
    amount = np.add.reduceat(l_price * l_qty, first_line) if no else np.zeros(0, dtype=np.int64)

    # -- presale: deposit in the deposit window, balance in the next balance window (or never)
    presale = in_sale & (o_kind == 0) & (rng.random(no) < 0.75)
    bal_start = np.full(no, NULL)
    bal_end = np.full(no, NULL)
    for s, sale in enumerate(cal.sales):
        rows = np.flatnonzero(presale & (o_sale == s))
        for bs, be in sorted(sale.balance, reverse=True):
            fits = o_time[rows] < bs
            bal_start[rows[fits]], bal_end[rows[fits]] = bs, be
    presale &= bal_start != NULL
    deposit = np.where(presale, (amount * 20 + 50) // 100, NULL)
    balance = np.where(presale, amount - deposit, NULL)

    # -- source
    source = np.full(no, NORMAL, dtype=np.int64)
    lf = live_fan_since[o_cust]
    source[(lf != NULL) & (o_time >= lf) & (rng.random(no) < 0.3)] = LIVE
    source[(rng.random(no) < 0.05)] = JUHUASUAN
    source[presale] = PRESALE

    # -- payment life cycle (all relative to the end of the span: later moments do not exist yet)
    end = cal.end
    status = np.full(no, PAID, dtype=np.int64)
    paid_at = o_time + rng.integers(3, 180, no)
    closed_at = np.full(no, NULL)
    refunded_at = np.full(no, NULL)
    dep_paid_at = np.where(presale, o_time + rng.integers(5, 120, no), NULL)
    bal_paid_at = np.full(no, NULL)
    # unpaid at creation (~8%): ~30% pay within the hour (reminder targets), the rest close after 24h
    unpaid = ~presale & (rng.random(no) < 0.08)
    late_pay = unpaid & (rng.random(no) < 0.30)
    paid_at[late_pay] = o_time[late_pay] + rng.integers(300, 3600, int(late_pay.sum()))
    never = unpaid & ~late_pay
    status[never] = CLOSED
    closed_at[never] = o_time[never] + DAY
    paid_at[never] = NULL
    # presale balance: ~85% pay, mostly right at the balance opening
    if presale.any():
        pr = np.flatnonzero(presale)
        length = bal_end[pr] - bal_start[pr]
        bt = bal_start[pr] + np.minimum(rng.exponential(0.25, len(pr)) * length, length - 1).astype(np.int64)
        pays = rng.random(len(pr)) < 0.85
        paid_at[pr] = np.where(pays, bt, NULL)
        bal_paid_at[pr] = np.where(pays, bt, NULL)
        status[pr] = np.where(pays, PAID, CLOSED)
        closed_at[pr] = np.where(pays, NULL, bal_end[pr])
    # refunds (~3% of paid orders), 1-15 days after payment
    refund = (status == PAID) & (rng.random(no) < 0.03)
    refunded_at[refund] = paid_at[refund] + rng.integers(DAY, 15 * DAY, int(refund.sum()))
    status[refund] = REFUNDED
    # cut at the end of the span
    future = lambda a: (a != NULL) & (a >= end)  # noqa: E731
    refunded_back = future(refunded_at)
    status[refunded_back] = PAID
    refunded_at[refunded_back] = NULL
    not_yet_paid = future(paid_at)
    paid_at[not_yet_paid] = NULL
    bal_paid_at[future(bal_paid_at)] = NULL
    not_yet_closed = future(closed_at)
    closed_at[not_yet_closed] = NULL
    open_now = not_yet_paid | not_yet_closed
    status[open_now & presale] = DEPOSIT_PAID
    status[open_now & ~presale] = UNPAID
    dep_paid_at[future(dep_paid_at)] = NULL
    status[presale & (dep_paid_at == NULL)] = UNPAID
    seller_flag = np.where(rng.random(no) < 0.02, SELLER_FLAGS[rng.integers(0, 5, no)], None).astype(object)
    updated = np.maximum.reduce([o_time, paid_at, closed_at, refunded_at, dep_paid_at])

    # -- membership: joins at or after a purchase; level by three-year spend
    is_paid = (status == PAID) | (status == REFUNDED)
    paid_amount = np.bincount(o_cust[is_paid], weights=amount[is_paid], minlength=n)
    first_paid = np.full(n, NULL)
    pc = o_cust[is_paid]
    if len(pc):
        firsts = np.flatnonzero(np.r_[True, pc[1:] != pc[:-1]])
        first_paid[pc[firsts]] = paid_at[is_paid][firsts]
    has_paid = first_paid != NULL
    member = rng.random(n) < np.where(has_paid, 0.10 + 0.65 * loyal, 0.04)
    join = np.where(
        has_paid,
        np.where(rng.random(n) < 0.5, first_paid + rng.integers(0, 600, n),
                 first_paid + (rng.exponential(60.0, n) * DAY).astype(np.int64)),
        active_from + (rng.exponential(30.0, n) * DAY).astype(np.int64))
    join = np.where(old & (rng.random(n) < 0.4), first_seen + ((cal.start - first_seen) * rng.random(n)).astype(np.int64),
                    join)
    member &= join < end
    member_since = np.where(member, join, NULL)
    spend_yuan = paid_amount / 100
    level = np.where(member, 1 + (spend_yuan >= 1500) + (spend_yuan >= 5000) + (spend_yuan >= 12000), 0)

    # -- behaviour events
    ev_c, ev_t, ev_type, ev_sku, ev_coupon = [], [], [], [], []

    def add(c: np.ndarray, t: np.ndarray, typ: int, sku: np.ndarray, coupon: int = -1) -> None:
        ev_c.append(c), ev_t.append(t), ev_type.append(np.full(len(c), typ, dtype=np.int64))
        ev_sku.append(sku), ev_coupon.append(np.full(len(c), coupon, dtype=np.int64))

    # around every order: the visit that led to it, earlier visits, a cart, sometimes a favourite
    add(o_cust, o_time - rng.exponential(1200.0, no).astype(np.int64) - 1, VISIT, o_sku)
    k = rng.poisson(0.5, no)
    r = np.repeat(np.arange(no), k)
    add(o_cust[r], o_time[r] - (rng.exponential(3.0, len(r)) * DAY).astype(np.int64) - 1, VISIT, o_sku[r])
    r = np.flatnonzero(rng.random(no) < 0.55)
    add(o_cust[r], o_time[r] - rng.exponential(6 * HOUR, len(r)).astype(np.int64) - 1, CART, o_sku[r])
    r = np.flatnonzero(rng.random(no) < 0.12)
    add(o_cust[r], o_time[r] - (rng.exponential(4.0, len(r)) * DAY).astype(np.int64) - 1, FAV, o_sku[r])
    # background browsing while active (a visit every ~2 months, more for loyal customers)
    active_days = np.maximum(active_to - active_from, 0) / DAY
    k = rng.poisson(active_days / 60.0 * (0.4 + 1.2 * loyal))
    r = np.repeat(np.arange(n), k)
    add(r, _traffic_times(rng, cal, active_from[r], active_to[r]), VISIT, _pick(rng, cat.popularity_cdf, len(r)))
    # sale intent: visits, carts and favourites in warm-up..peak (many never paid), coupon claims
    claims_c, claims_t, claims_s = [], [], []
    for s, sale in enumerate(cal.sales):
        eligible = (first_seen < sale.order_end) & (churn > sale.start)
        engage = np.where(eligible, 0.2 + 1.6 * loyal, 0.0)
        hours, cdf = cal.intent_hours[s], cal.intent_cdf[s]
        for typ, rate in ((VISIT, 1.2), (CART, 0.6), (FAV, 0.25)):
            r = np.repeat(np.arange(n), rng.poisson(engage * rate))
            t = hours[_pick(rng, cdf, len(r))] + rng.integers(0, HOUR, len(r))
            add(r, t, typ, _pick(rng, cat.popularity_cdf, len(r)))
        r = np.flatnonzero(eligible & (rng.random(n) < 0.08 + 0.45 * loyal))
        t = hours[_pick(rng, cdf, len(r))] + rng.integers(0, HOUR, len(r))
        add(r, t, CLAIM, _pick(rng, cat.popularity_cdf, len(r)), ctx.coupons.store_of_sale[s])
        claims_c.append(r), claims_t.append(t), claims_s.append(np.full(len(r), s))
    e_c, e_t = np.concatenate(ev_c), np.concatenate(ev_t)
    e_type, e_sku, e_coupon = np.concatenate(ev_type), np.concatenate(ev_sku), np.concatenate(ev_coupon)
    keep = (e_t >= cal.start) & (e_t < cal.end)
    e_c, e_t, e_type, e_sku, e_coupon = (a[keep] for a in (e_c, e_t, e_type, e_sku, e_coupon))
    order_e = np.lexsort((e_t, e_type, e_c))     # the order of ix_events_customer_type_time
    e_c, e_t, e_type, e_sku, e_coupon = (a[order_e] for a in (e_c, e_t, e_type, e_sku, e_coupon))

    # first seen = the earliest thing we know of the customer
    first_ev = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_ev, e_c, e_t)
    np.minimum.at(first_ev, o_cust, o_time)
    first_seen = np.minimum(first_seen, first_ev)

    # -- coupon grants: store coupons claimed in the sale, member coupons pushed to members
    g_c = [np.concatenate(claims_c)] if claims_c else []
    g_t = [np.concatenate(claims_t)] if claims_t else []
    g_coupon = [np.array(ctx.coupons.store_of_sale, dtype=np.int64)[np.concatenate(claims_s)]] if claims_s else []
    for s, sale in enumerate(cal.sales):
        ci = ctx.coupons.member_of_sale[s]
        vf = ctx.coupons.valid_from[ci]
        r = np.flatnonzero(member & (member_since < vf) & (churn > vf) & (rng.random(n) < 0.6))
        g_c.append(r), g_t.append(np.full(len(r), vf, dtype=np.int64)), g_coupon.append(np.full(len(r), ci))
    g_c, g_t, g_coupon = np.concatenate(g_c), np.concatenate(g_t), np.concatenate(g_coupon)
    keep = (g_t >= cal.start) & (g_t < cal.end)
    g_c, g_t, g_coupon = g_c[keep], g_t[keep], g_coupon[keep]
    og = np.lexsort((g_coupon, g_t, g_c))
    g_c, g_t, g_coupon = g_c[og], g_t[og], g_coupon[og]
    valid_to = np.array(ctx.coupons.valid_to, dtype=np.int64)[g_coupon]
    threshold = np.array(ctx.coupons.threshold_cents, dtype=np.int64)[g_coupon]
    expires = valid_to
    # redeemed on the customer's first paid order inside the validity (if over the threshold)
    redeemed_at = np.full(len(g_c), NULL)
    red_order = np.full(len(g_c), -1)
    pi = np.flatnonzero(is_paid & (paid_at != NULL))
    if len(pi) and len(g_c):
        key = o_cust[pi] * (1 << 40) + (paid_at[pi] - cal.start + (1 << 36))
        srt = np.argsort(key, kind="stable")
        key, pi = key[srt], pi[srt]
        gkey = g_c * (1 << 40) + (g_t - cal.start + (1 << 36))
        j = np.searchsorted(key, gkey, side="left")
        ok = j < len(key)
        jj = np.minimum(j, len(key) - 1)
        cand = pi[jj]
        ok &= (o_cust[cand] == g_c) & (paid_at[cand] < valid_to) & (amount[cand] >= threshold)
        ok &= rng.random(len(g_c)) < 0.75
        redeemed_at[ok] = paid_at[cand[ok]]
        red_order[ok] = cand[ok]
    g_k = _rank_in_group(g_c)

    # -- customer attributes: contact data and consent
    has_mobile = rng.random(n) < 0.90
    a_m, b_m, a_e, b_e, a_q, b_q = ctx.mix
    prefix = ALL_PREFIXES[_pick(rng, np.cumsum(PREFIX_P), n)]
    mobile_num = prefix * 10**8 + (gidx * a_m + b_m) % 10**8
    mobile = np.where(has_mobile, mobile_num.astype(str), None).astype(object)
    has_email = rng.random(n) < 0.60
    dom = EMAIL_DOMAINS[_pick(rng, np.cumsum(EMAIL_P), n)]
    pinyin = np.strings.add(np.strings.add(SYLLABLES[rng.integers(0, len(SYLLABLES), n)],
                                           SYLLABLES[rng.integers(0, len(SYLLABLES), n)]),
                            _mix_str(gidx, a_e, b_e, 10**7, 7))
    qq = ((gidx * a_q + b_q) % 10**9 + 10**8).astype(str)
    local = np.where((dom == "qq.com") | (dom == "foxmail.com"), qq, pinyin)
    email = np.where(has_email, np.strings.add(np.strings.add(local, "@"), dom), None).astype(object)
    nick = np.where(rng.random(n) < 0.5, np.strings.add("tb", _mix_str(gidx, a_q, b_e, 10**9, 9)),
                    np.strings.add(np.strings.add(SYLLABLES[rng.integers(0, len(SYLLABLES), n)],
                                                  SYLLABLES[rng.integers(0, len(SYLLABLES), n)]),
                                   rng.integers(1, 9999, n).astype(str)))
    province = PROVINCES[_pick(rng, np.cumsum(PROVINCE_W), n)]
    opted = rng.random(n) < 0.03
    opted_out_at = np.where(opted, first_seen + ((end - first_seen) * rng.random(n)).astype(np.int64), NULL)
    consent_sms = ~opted & (rng.random(n) >= 0.02)
    consent_email = rng.random(n) >= 0.10
    consent_inapp = rng.random(n) >= 0.03
    blacklisted = rng.random(n) < 0.005
    c_updated = np.maximum.reduce([np.maximum(first_seen, cal.start), member_since, fan_since, live_fan_since,
                                   opted_out_at])

    cust_id = np.strings.add("C", np.strings.zfill(gidx.astype(str), 9))
    order_id = order_num.astype(str)
    return {
        "customers": {
            "customer_id": cust_id, "nick": nick, "mobile": mobile, "email": email, "province": province,
            "first_seen_at": first_seen, "member_since": member_since, "member_level": level,
            "fan_since": fan_since, "live_fan_since": live_fan_since, "consent_sms": consent_sms,
            "consent_email": consent_email, "consent_inapp": consent_inapp, "opted_out_at": opted_out_at,
            "blacklisted": blacklisted, "updated_at": c_updated,
        },
        "orders": {
            "order_id": order_id, "customer_id": cust_id[o_cust],
            "platform": np.full(no, ctx.platform, dtype=object), "status": STATUS[status],
            "source": SOURCE[source], "seller_flag": seller_flag, "created_at": o_time, "paid_at": paid_at,
            "closed_at": closed_at, "refunded_at": refunded_at, "amount": amount, "is_presale": presale,
            "deposit_amount": deposit, "deposit_paid_at": dep_paid_at, "balance_amount": balance,
            "balance_paid_at": bal_paid_at, "updated_at": updated,
        },
        "order_items": {
            "order_id": order_id[l_order], "line_no": l_no, "sku_id": cat.sku_id[l_sku],
            "category": cat.category[l_sku], "price": l_price, "quantity": l_qty,
        },
        "events": {
            "customer_id": cust_id[e_c], "event_type": EVENT_TYPE[e_type], "occurred_at": e_t,
            "sku_id": cat.sku_id[e_sku], "category": cat.category[e_sku],
            "coupon_id": np.where(e_coupon >= 0, np.array(ctx.coupons.coupon_id + [""])[e_coupon], None).astype(object),
        },
        "coupon_grants": {
            "grant_id": np.strings.add(np.strings.add("G", np.strings.zfill(gidx[g_c].astype(str), 9)),
                                       np.strings.zfill(g_k.astype(str), 3)),
            "coupon_id": np.array(ctx.coupons.coupon_id)[g_coupon], "customer_id": cust_id[g_c],
            "granted_at": g_t, "expires_at": expires, "redeemed_at": redeemed_at,
            "order_id": np.where(red_order >= 0, order_id[np.maximum(red_order, 0)] if no else "", None).astype(object),
        },
    }


def stats_of(tables: dict[str, dict[str, Any]]) -> dict[str, int]:
    return {name: len(next(iter(cols.values()))) for name, cols in tables.items()}
