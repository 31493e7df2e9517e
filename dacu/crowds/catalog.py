"""The crowd catalogue: every crowd a playbook may name, with its parameters.

Names and parameters are the contract between playbooks and the crowd library
(``include/sql/crowds/<name>.sql``). The playbook validator checks a strategy's
crowd against this catalogue, so a misspelt crowd or parameter is an error in
the file, not a surprise at 6.19 20:00.

Times in parameters: ``*_days`` count sale-local calendar days back from the
gate moment (the run's time): "in the last N days" at 6.19 20:00 means from
6.12 00:00 (the gate's day minus N, sale-local) up to 6.19 20:00 inclusive.
``since``/``start``/``end``/``before`` are sale-local dates (``end`` covers its
whole day) or ``"YYYY-MM-DD HH:MM"`` datetimes (``end`` covers its minute);
``"reference_day"`` names 00:00 of the sale's reference day. docs/crowds.md
has the exact reading of every crowd.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CrowdSpec:
    name: str
    title: str                 # Chinese name as the ops team reads it
    definition: str            # one line, English
    source: str                # the seed row that uses it
    params: dict = field(default_factory=dict)   # name -> default (None: required, unless optional)
    optional: frozenset = frozenset()            # params whose None default means "no such condition"


def _c(name, title, definition, source, *, optional=(), **params):
    return CrowdSpec(name, title, definition, source, params, frozenset(optional))


CROWDS: dict[str, CrowdSpec] = {c.name: c for c in [
    _c("whole_store", "全店", "every customer the shop knows as of the moment", "seed 000 §四"),
    _c("old_customers", "老客", "a paid order before 00:00 of the sale's reference day", "seed 000 §四 统计期间的老客"),
    _c("new_customers", "新客", "known customers who are not old customers", "seed 000 §三 新客人群承接&转化"),
    _c("members", "会员", "members as of the moment, optionally from a minimum level", "seed 000 §三 会员",
       min_level=1),
    _c("fans", "粉丝", "subscription fans as of the moment", "seed 000 §三 粉丝"),
    _c("promo_high_potential", "大促高潜人群",
       "visited, carted or favourited in the last N days and bought in the last 365 days or is a member",
       "seed 000 §三 大促高潜人群种草提醒", intent_days=30),
    _c("category_interest", "类目兴趣客户",
       "visited/carted/favourited items of the given categories in the last N days", "seed 000 §三 类目兴趣客户吸引到店",
       categories=None, intent_days=30),
    _c("cart_or_fav_not_paid", "加购收藏未付款",
       "carted or favourited between max_days and min_days ago, no paid order in the last no_purchase_days",
       "seed 001 自动化; seed 000 §三 加购收藏未付款人群提醒", min_days=0, max_days=10, no_purchase_days=10),
    _c("last_push", "临门一脚人群",
       "carted/favourited or claimed a coupon in the sale and has not paid in the sale", "seed 000 §三 临门一脚",
       intent_days=14),
    _c("presale_buyers_history", "历史预售购买人群", "paid a presale deposit in earlier sales",
       "seed 000 §三 历史预售购买人群的营销召回", lookback_days=730, before="reference_day"),
    _c("deposit_paid_balance_unpaid", "定金已付尾款未付", "presale deposit paid in the sale, balance not paid",
       "seed 004 催付: 尾款提醒", since="reference_day"),
    _c("high_value_repeat", "购物金高意向会员", "members with at least min_orders paid orders in the last N days",
       "seed 000 §三 购物金高意向会员提前锁客", min_orders=2, lookback_days=365),
    _c("member_buyers_365", "近365天已购会员", "members with a paid order in the last N days",
       "seed 000 §三 复购券促第二、三单转化", lookback_days=365),
    _c("lapsed_members_category_intent", "高潜未购会员",
       "members with no paid order for lapsed_days and visit/cart/favourite in intent_days on a category they bought before",
       "seed 000 §三 高潜未购会员召回", lapsed_days=180, intent_days=30),
    _c("watching_not_buying", "观望未购会员",
       "members who claimed a coupon, carted or favourited in intent_days or visited >= min_visits in visit_days, no paid order",
       "seed 000 §三 观望未购会员转化", intent_days=7, visit_days=30, min_visits=3, no_purchase_days=30),
    _c("buyers_not_members", "已购未入会", "paid an order since a date and is not a member",
       "seed 000 §三 高价值会员招募", since=None),
    _c("live_stream_fans", "直播兴趣会员", "live-stream fans (optionally members only)", "seed 000 §三 直播兴趣会员转化",
       members_only=True),
    _c("unredeemed_coupon_holders", "权益未核销会员", "hold a coupon grant valid at the moment, not redeemed (coupon_ids [] = any coupon)",
       "seed 000 §三 第二波权益未核销会员提醒", coupon_ids=[]),
    _c("unpaid_orders", "下单未付款", "an order created delay_minutes (juhuasuan: juhuasuan_delay_minutes) to delay+window_minutes ago, unpaid, no paid order since",
       "seed 004 催付; seed 004 6.21 11:00", delay_minutes=25, window_minutes=1440, juhuasuan_delay_minutes=15,
       # seed 004 催付设置's order filters (a strategy's ``filters`` block sets them): 实付金额,
       # 屏蔽卖家标记, 指定商品/排除指定商品; each applies to the unpaid order, not to the buyer
       min_amount=None, max_amount=None, exclude_seller_flags=[], include_skus=[], exclude_skus=[],
       optional=("min_amount", "max_amount")),
    _c("closed_unpaid_potentials", "订单关闭未付款", "an order closed unpaid in the window and no paid order since",
       "seed 004 6.21 11:00 关闭订单召回", start=None, end=None),
    _c("new_by_recency", "新客分层", "customers without a paid order whose last visit is in the band: recent (<= recent_days), dormant (<= dormant_days), lapsed",
       "seed 004 新客: 近期/沉睡/流失", band="recent", recent_days=30, dormant_days=90),
    _c("rfm_high_quality", "优质老客", "old customers: paid within recency_days, >= min_orders paid orders and average order >= min_amount in lookback_days",
       "seed 004 优质老客", recency_days=90, min_orders=2, min_amount=300, lookback_days=365),
    _c("rfm_low_quality", "低质老客", "old customers: no paid order within recency_days and average order <= max_amount", "seed 004 低质老客",
       recency_days=180, max_amount=100),
    _c("lapsed_high_value_years", "往年沉默高价值客户",
       "paid >= min_amount in the years_back calendar years before this one and no paid order in the last lapsed_days", "seed 001 19–21年沉默高价值客户",
       years_back=3, min_amount=500, lapsed_days=365),
    _c("last_year_sale_buyers", "去年大促购买人群", "paid during last year's same sale window",
       "seed 001 去年双11购买人群", start=None, end=None),
    _c("loyal_repeat_buyers", "忠实复购客户", "at least min_orders paid orders in lookback_days",
       "seed 001 忠实复购客户", min_orders=3, lookback_days=365),
    _c("active_recent_buyers", "近期活跃购买客户", "a paid order in the last lookback_days", "seed 001 近期活跃客户",
       lookback_days=90),
    _c("repurchase_due", "复购到期客户", "their per-SKU repurchase cycle comes due within the next window_days",
       "seed 001 智能复购提醒", window_days=7, min_history_customers=3),
    _c("mobile_customers", "手机客户", "customers with a valid mobile number", "seed 001 手机客户"),
    _c("paid_in_sale", "大促已购", "a paid order (or balance) since the given moment (used to exclude buyers)",
       "seed 004 6.19 20:00 排除已购", since=None),
    _c("sale_buyers", "大促成交客户", "paid an order during the sale window (for shipping notices and archiving)",
       "seed 001 物流通知; seed 004 收尾 沉淀", start=None, end=None),
    _c("sale_new_customers", "大促新客", "first paid order in the sale window (nurture group after the sale)",
       "seed 004 收尾: 新客沉淀", start=None, end=None),
]}


def crowd_names() -> list[str]:
    return sorted(CROWDS)
