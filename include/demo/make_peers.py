"""Write the demo's peer-average CSV (同行同层) for 天猫双11 2026, as the platform's download would look.

    .venv/bin/python include/demo/make_peers.py [--out include/demo/peers_tmall_double11_2026.csv] [--seed 2026]

Synthetic, deterministic (same seed, same file): the averages of same-tier shops
(about 3,000 customers, like the demo shop) for every day of the sale window
2026-09-01..2026-11-30, with the Chinese headers, crowd names and metric labels
of the platform variant (docs/data-contract.md "Peer averages") and rates as
percentages. The curve follows the Double 11 calendar of seed 001/002: a flat
seeding period, warm-up from 10-08 rising into the 11-08..11-10 climax, the
11-11 peak (deposits 10-20..11-10, balances on 11-11) and the after-sale tail.
It exists so the demo's retro report has peers; it is not real data.
"""
from __future__ import annotations

import argparse
import csv
import random
from datetime import date, timedelta
from pathlib import Path

START, END = date(2026, 9, 1), date(2026, 11, 30)
PEAK = date(2026, 11, 11)
CROWD_LABEL = {"whole_store": "全店", "new": "新客", "old": "老客", "members": "会员", "fans": "粉丝"}
RATE_LABEL = {"visit_rate": "进店率", "visit_cart_rate": "进店-加购比率", "cart_pay_rate": "加购-支付比率",
              "visit_pay_rate": "进店-支付比率", "conversion_rate": "转化率", "amount_share": "成交占比"}
WARMUP_LABEL = {"visitors": "访问客户数", "favourite_customers": "收藏客户数", "cart_customers": "加购客户数",
                "buyers": "购买客户数", "coupons_claimed": "优惠券领取数"}

# per crowd: visit_rate, visit_cart_rate, cart_pay_rate, visit_pay_rate, conversion_rate, amount_share on a
# quiet day, and the multiplier they reach on 11-11 (peer shops of the demo's tier)
BASE = {
    "whole_store": ((0.040, 2.6), (0.28, 1.7), (0.38, 2.2), (0.21, 6.0), (0.0090, 22.0), (1.0, 1.0)),
    "new": ((0.80, 0.9), (0.33, 1.3), (0.40, 2.0), (0.30, 2.2), (0.22, 2.8), (0.09, 0.9)),
    "old": ((0.042, 2.7), (0.29, 1.6), (0.36, 2.3), (0.20, 6.2), (0.0085, 26.0), (0.91, 1.01)),
    "members": ((0.060, 2.6), (0.27, 1.7), (0.40, 2.2), (0.16, 9.0), (0.0120, 24.0), (0.30, 1.2)),
    "fans": ((0.058, 2.5), (0.25, 1.8), (0.41, 2.1), (0.22, 5.5), (0.0130, 21.0), (0.42, 1.0)),
}
# warm-up view per day on a quiet day (new, old) and the multiplier on 11-11
WARMUP_BASE = {
    "visitors": ((16, 105), 3.6), "favourite_customers": ((1.5, 11), 1.8), "cart_customers": ((6, 30), 6.5),
    "buyers": ((4, 22), 24.0), "coupons_claimed": ((1.2, 5), 3.0),
}


def activity(day: date) -> float:
    """0 on a quiet seeding day, 1 on 11-11: how far into the sale's surge a day is."""
    if day == PEAK:
        return 1.0
    if day > PEAK:
        return max(0.0, 0.18 - 0.02 * (day - PEAK).days)          # after-sale tail
    if day >= date(2026, 11, 8):
        return 0.22 + 0.04 * (day - date(2026, 11, 8)).days        # warm-up climax
    if day >= date(2026, 10, 8):
        return 0.02 + 0.1 * (day - date(2026, 10, 8)).days / 31    # warm-up
    return 0.0


def lift(base: float, peak_mult: float, a: float) -> float:
    return base * (1 + (peak_mult - 1) * a)


def rows(seed: int):
    rng = random.Random(seed)
    day = START
    while day <= END:
        a = activity(day)
        for crowd, specs in BASE.items():
            for (name, label), (base, mult) in zip(RATE_LABEL.items(), specs):
                if name == "amount_share" and crowd == "whole_store":
                    value = 1.0
                else:
                    value = lift(base, mult, a) * rng.uniform(0.88, 1.12)
                bound = 1.0 if name in ("visit_rate", "cart_pay_rate", "conversion_rate", "amount_share") else 5.0
                yield day, CROWD_LABEL[crowd], label, f"{min(value, bound) * 100:.2f}%"
        rv = lift(9.5, 28.0, a) * rng.uniform(0.9, 1.1)
        yield day, "全店", "活跃RV关系价值", f"{rv:.2f}"
        for name, ((new, old), mult) in WARMUP_BASE.items():
            for crowd, base in (("new", new), ("old", old)):
                yield day, CROWD_LABEL[crowd], WARMUP_LABEL[name], f"{lift(base, mult, a) * rng.uniform(0.85, 1.15):.1f}"
        day += timedelta(days=1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).with_name("peers_tmall_double11_2026.csv")))
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args(argv)
    out = Path(args.out)
    with out.open("w", encoding="utf-8-sig", newline="") as fh:   # BOM: opens in Excel like the download
        w = csv.writer(fh)
        w.writerow(["日期", "人群", "指标", "同行同层平均值"])
        n = 0
        for day, crowd, metric, value in rows(args.seed):
            w.writerow([day.isoformat(), crowd, metric, value])
            n += 1
    print(f"{out}: {n} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
