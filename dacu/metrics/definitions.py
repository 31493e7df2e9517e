"""The metric list of the war-room snapshot (seed 000 §四) and the warm-up view (seed 002).

Each metric has its code name (a column of ``metric_snapshots``), the Chinese
label the ops team reads, what it counts (numerator / denominator for rates),
whether the wording is the seed's or our reading (DOMAIN.md "Our reading ..."),
and its kind, which decides its column type and its checks:

- ``count``: distinct customers, integer >= 0
- ``amount``: yuan, 2 decimals, >= 0
- ``rate``: numerator / denominator in [0, 1]; NULL (NaN) when the denominator is 0
- ``value``: yuan per customer (a ratio of an amount to a count); NULL when the count is 0
- ``peer``: the peer average (同行同层) imported into ``peer_benchmarks``; NULL when none

``scope`` is ``crowd`` (differs per crowd row) or ``store`` (one store-level figure,
repeated on every crowd row of a snapshot so the table stays one row per crowd).

This module is pure data: the warehouse schema builds its metric columns from it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["count", "amount", "rate", "value", "peer"]
Scope = Literal["crowd", "store"]


@dataclass(frozen=True)
class Metric:
    name: str
    label: str                      # Chinese, as in seed 000 §四
    kind: Kind
    scope: Scope
    numerator: str
    denominator: str | None = None  # rates and values only
    reading: Literal["seed", "ours"] = "seed"
    doc: str = ""


# The crowds of seed 000 §四 in display order, with their labels.
CROWDS: dict[str, str] = {
    "whole_store": "全店",
    "new": "新客",
    "old": "老客",
    "members": "会员",
    "fans": "粉丝",
}

_M = Metric

SNAPSHOT_METRICS: tuple[Metric, ...] = (
    # --- per crowd: counts and amounts -------------------------------------------------------
    _M("crowd_size", "人群总数", "count", "crowd",
       "customers in the crowd as of the end of the range's last day", reading="ours",
       doc="Seed: 统计时间段内,最大日期当天的人群用户总数. Whole store = every customer known by then "
           "(customer row, order, event, membership or fan relation); new = non-old customers who visited "
           "(any store event) or transacted (order created, deposit or payment) in the range; "
           "old = fixed on the reference day; members/fans as of that day."),
    _M("visitors", "进店访客数", "count", "crowd", "distinct crowd customers with a visit event in the range"),
    _M("cart_buyers", "加购人数", "count", "crowd",
       "distinct crowd customers with an add-to-cart event in the range",
       doc="Deletions and quantity edits are ignored (the warehouse keeps cart additions only)."),
    _M("deposit_buyers", "预售下定金买家数", "count", "crowd",
       "distinct crowd customers who paid a presale deposit in the range"),
    _M("balance_buyers", "预售付尾款买家数", "count", "crowd",
       "distinct crowd customers who paid a presale balance in the range"),
    _M("deposit_balance_buyers", "下定金后付尾款买家数", "count", "crowd",
       "distinct crowd customers with a presale order whose deposit and balance were both paid in the range",
       reading="ours", doc="Numerator of deposit_balance_rate (see there)."),
    _M("presale_paid_amount", "预售订单支付金额(实际)", "amount", "crowd",
       "deposit + balance of presale orders whose balance was paid in the range", reading="ours"),
    _M("cart_paid_buyers", "加购-支付买家数", "count", "crowd",
       "distinct crowd customers who added to cart in the range and paid an order (any item) later in the range",
       reading="ours"),
    _M("cart_paid_amount", "加购-支付金额", "amount", "crowd",
       "amount of the orders paid in the range after the customer's first add-to-cart in the range",
       reading="ours"),
    _M("paying_buyers", "全部成交买家数", "count", "crowd",
       "distinct crowd customers with an order paid in the range (presale: balance paid)",
       doc="Refunds do not reduce the day (the seed counts payments)."),
    _M("paid_amount", "全部成交金额", "amount", "crowd",
       "amount of orders paid in the range; presale orders at deposit + balance when the balance is paid",
       reading="ours"),
    # --- per crowd: rates --------------------------------------------------------------------
    _M("visit_rate", "进店率", "rate", "crowd", "visitors", "crowd_size"),
    _M("visit_cart_rate", "进店-加购比率", "rate", "crowd", "cart_buyers", "visitors",
       doc="Can exceed 1 when carts arrive without a visit event; checked at warning severity."),
    _M("visit_deposit_rate", "进店-预售下定金比率", "rate", "crowd", "deposit_buyers", "visitors",
       doc="Can exceed 1 when deposits are paid without a visit event; checked at warning severity."),
    _M("cart_pay_rate", "加购-支付比率", "rate", "crowd", "cart_paid_buyers", "cart_buyers", reading="ours",
       doc="Seed: 支付买家数/加购人数; DOMAIN fixes the numerator as the cart→paid buyers."),
    _M("deposit_balance_rate", "下定金-付尾款比率", "rate", "crowd", "deposit_balance_buyers", "deposit_buyers",
       reading="ours",
       doc="Seed: 付尾款买家数/下定金买家数 in the period. Over a period that does not hold the deposit window "
           "(a single balance day) that ratio is unbounded, so we take the funnel step: of the deposit buyers "
           "of the range, the share who also paid that order's balance in the range. balance_buyers keeps the "
           "seed's count."),
    _M("visit_pay_rate", "进店-支付比率", "rate", "crowd", "paying_buyers", "visitors",
       doc="Can exceed 1: a balance paid from the order list is a payment without a store visit; "
           "checked at warning severity."),
    _M("conversion_rate", "转化率", "rate", "crowd", "paying_buyers", "crowd_size", reading="ours"),
    _M("amount_share", "成交占比", "rate", "crowd", "paid_amount", "store_paid_amount",
       doc="Seed: 新/老/会/粉成交金额 ÷ 店铺总成交金额; 1 for the whole store."),
    # --- store level (seed 000: RV relationship metrics) -------------------------------------
    _M("rv_start", "RV关系总数(start)", "count", "store",
       "distinct members or fans at 00:00 of the range's first day", reading="ours"),
    _M("active_rv_start", "活跃RV关系总数(start)", "count", "store",
       "members or fans at 00:00 of the first day with a visit or paid order in the active_rv_days before it",
       reading="ours"),
    _M("active_rv_buyers", "活跃RV关系成交买家数", "count", "store",
       "active RV (start) customers with an order paid in the range"),
    _M("active_rv_amount", "活跃RV关系成交金额", "amount", "store",
       "amount paid in the range by active RV (start) customers"),
    _M("active_rv_value", "活跃RV关系价值", "value", "store", "active_rv_amount", "active_rv_start"),
    _M("store_paid_amount", "店铺成交金额", "amount", "store", "amount of all orders paid in the range"),
    _M("non_rv_value", "非RV关系价值", "value", "store", "store_paid_amount - active_rv_amount",
       "whole-store crowd_size at the end - active_rv_start"),
    _M("active_members", "活跃会员数", "count", "store",
       "members at the end of the range with a visit or paid order in the active_rv_days before that moment",
       reading="ours"),
    _M("active_member_buyers", "活跃会员成交人数", "count", "store",
       "active members (end) with an order paid in the range"),
    _M("active_fans_excl_members", "活跃粉丝数(排除会员)", "count", "store",
       "fans at the end of the range who are not members then, active as for active_members", reading="ours"),
    _M("active_fan_buyers_excl_members", "活跃粉丝(排除会员)成交人数", "count", "store",
       "active fans excluding members (end) with an order paid in the range"),
    _M("store_buyers", "店铺总成交买家数", "count", "store", "distinct customers with an order paid in the range"),
    _M("store_visitors", "店铺总进店人数", "count", "store", "distinct customers with a visit event in the range"),
    # --- peer averages (同行同层), imported; single-day snapshots only ---------------------------
    _M("peer_visit_rate", "进店率同行同层平均值", "peer", "crowd", "peer_benchmarks metric visit_rate"),
    _M("peer_conversion_rate", "转化率同行同层平均值", "peer", "crowd", "peer_benchmarks metric conversion_rate"),
    _M("peer_amount_share", "成交占比同行同层平均值", "peer", "crowd", "peer_benchmarks metric amount_share"),
    _M("peer_active_rv_value", "同行同层平均活跃RV关系价值", "peer", "store",
       "peer_benchmarks metric active_rv_value, crowd whole_store"),
)

# Peer metrics read from peer_benchmarks: snapshot column -> (benchmark metric name, store-level?)
PEER_SOURCES: dict[str, tuple[str, bool]] = {
    "peer_visit_rate": ("visit_rate", False),
    "peer_conversion_rate": ("conversion_rate", False),
    "peer_amount_share": ("amount_share", False),
    "peer_active_rv_value": ("active_rv_value", True),
}

# Seed 002's daily warm-up view: per sale-local day, new vs old.
WARMUP_CROWDS: tuple[str, ...] = ("new", "old")
WARMUP_METRICS: tuple[Metric, ...] = (
    _M("visitors", "访问客户数", "count", "crowd", "distinct customers with a visit event that day"),
    _M("favourite_customers", "收藏客户数", "count", "crowd", "distinct customers with a favourite event that day"),
    _M("cart_customers", "加购客户数", "count", "crowd", "distinct customers with an add-to-cart event that day"),
    _M("buyers", "购买客户数", "count", "crowd", "distinct customers with an order paid that day"),
    _M("coupons_claimed", "优惠券领取数", "count", "crowd", "coupon_claim events that day (claims, not customers)"),
)

BY_NAME: dict[str, Metric] = {m.name: m for m in SNAPSHOT_METRICS}


def metric_names(kind: Kind | None = None, scope: Scope | None = None) -> list[str]:
    """Snapshot metric names in table order, optionally of one kind and/or scope."""
    return [m.name for m in SNAPSHOT_METRICS
            if (kind is None or m.kind == kind) and (scope is None or m.scope == scope)]


def warmup_metric_names() -> list[str]:
    return [m.name for m in WARMUP_METRICS]
