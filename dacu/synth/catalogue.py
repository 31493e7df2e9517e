"""The synthetic shop's catalogue (SKUs) and coupons; small, generated once per run."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dacu.synth.calendar import DAY, ShopCalendar

# (category, items, brands, price range yuan, repurchase cycle range days or None for durables)
CATEGORIES: tuple[tuple[str, tuple[str, ...], tuple[str, ...], tuple[int, int], tuple[int, int] | None], ...] = (
    ("面部护肤", ("精华液", "面霜", "爽肤水", "洁面乳", "面膜"), ("润颜", "水漾"), (79, 599), (60, 90)),
    ("彩妆", ("口红", "粉底液", "眼影盘", "气垫"), ("绯色", "轻妆"), (59, 399), (75, 90)),
    ("洗发护发", ("洗发水", "护发素", "发膜"), ("丝语", "清源"), (39, 159), (45, 60)),
    ("身体清洁", ("沐浴露", "身体乳", "洗手液"), ("沐然", "清源"), (29, 129), (30, 60)),
    ("纸品湿巾", ("抽纸", "卷纸", "湿巾"), ("柔净", "棉语"), (19, 89), (30, 45)),
    ("母婴用品", ("纸尿裤", "拉拉裤", "婴儿湿巾"), ("贝护", "暖宝"), (59, 229), (30, 40)),
    ("宠物食品", ("猫粮", "狗粮", "猫罐头"), ("宠优", "喵享"), (49, 299), (30, 45)),
    ("休闲零食", ("坚果礼盒", "牛肉干", "果干"), ("山野", "味道"), (19, 139), (30, 40)),
    ("小家电", ("电动牙刷", "吹风机", "加湿器", "料理机"), ("智享", "米瑞"), (129, 1299), None),
    ("家居日用", ("收纳箱", "保温杯", "四件套", "毛巾"), ("居悦", "简木"), (29, 499), None),
)
SPECS = ("标准装", "家庭装", "量贩装", "旅行装", "礼盒装")
SKUS_PER_CATEGORY = 20


@dataclass(frozen=True)
class Catalogue:
    sku_id: np.ndarray          # str
    name: np.ndarray            # str
    category: np.ndarray        # str
    category_idx: np.ndarray    # int
    price_cents: np.ndarray     # int64 list price
    cycle_days: np.ndarray      # int64, 0 = durable (no repurchase cycle)
    popularity_cdf: np.ndarray  # cumulative popularity (Zipf-like)

    def __len__(self) -> int:
        return len(self.sku_id)


def build_catalogue(rng: np.random.Generator) -> Catalogue:
    ids, names, cats, cat_idx, prices, cycles = [], [], [], [], [], []
    n = 0
    for ci, (cat, items, brands, (lo, hi), cycle) in enumerate(CATEGORIES):
        for j in range(SKUS_PER_CATEGORY):
            n += 1
            item = items[j % len(items)]
            brand = brands[(j // len(items)) % len(brands)]
            spec = SPECS[j % len(SPECS)]
            ids.append(f"SKU-{n:04d}")
            names.append(f"{brand}{item} {spec}")
            cats.append(cat)
            cat_idx.append(ci)
            # prices end in 9 yuan or .90, as shops price them
            yuan = int(rng.integers(lo // 10, hi // 10 + 1)) * 10 - 1
            prices.append(yuan * 100 if rng.random() < 0.7 else yuan * 100 + 90)
            cycles.append(int(rng.integers(cycle[0], cycle[1] + 1)) if cycle else 0)
    # Zipf-like popularity over a shuffled catalogue: a few best sellers carry the shop
    weights = 1.0 / np.arange(1, n + 1) ** 0.9
    weights = weights[rng.permutation(n)]
    return Catalogue(
        sku_id=np.array(ids), name=np.array(names), category=np.array(cats), category_idx=np.array(cat_idx),
        price_cents=np.array(prices, dtype=np.int64), cycle_days=np.array(cycles, dtype=np.int64),
        popularity_cdf=np.cumsum(weights) / weights.sum(),
    )


@dataclass(frozen=True)
class CouponSet:
    """Coupons per sale (store coupon claimed in the warm-up, member coupon pushed to members)."""
    coupon_id: list[str]
    name: list[str]
    kind: list[str]
    face_cents: list[int]
    threshold_cents: list[int]
    valid_from: list[int]       # local seconds
    valid_to: list[int]
    issued_at: list[int]
    total_quantity: list[int]
    store_of_sale: list[int]    # per sale: index of its store coupon
    member_of_sale: list[int]   # per sale: index of its member coupon


def build_coupons(cal: ShopCalendar, n_customers: int) -> CouponSet:
    c: dict[str, list] = {k: [] for k in ("coupon_id", "name", "kind", "face_cents", "threshold_cents",
                                          "valid_from", "valid_to", "issued_at", "total_quantity")}
    store_idx, member_idx = [], []
    for sale in cal.sales:
        label = "618" if sale.kind == "618" else "双11"
        valid_from = max(sale.start, cal.start)
        valid_to = sale.order_end
        # seed 004: coupons are created before the sale (the platform throttles during it)
        issued = max(valid_from - 3 * DAY, cal.start)
        for kind, face, threshold, share in (("store", 20, 199, 0.5), ("member", 10, 99, 0.3)):
            (store_idx if kind == "store" else member_idx).append(len(c["coupon_id"]))
            c["coupon_id"].append(f"cp_{sale.key}_{kind}")
            c["name"].append(f"{label}{'店铺券' if kind == 'store' else '会员专享券'} 满{threshold}减{face}")
            c["kind"].append(kind)
            c["face_cents"].append(face * 100)
            c["threshold_cents"].append(threshold * 100)
            c["valid_from"].append(valid_from)
            c["valid_to"].append(valid_to)
            c["issued_at"].append(issued)
            c["total_quantity"].append(max(1000, int(n_customers * share) // 1000 * 1000))
    return CouponSet(**c, store_of_sale=store_idx, member_of_sale=member_idx)
