"""Chinese labels the ops team reads on the war-room page (code keeps the English names).

Unknown codes fall back to the code itself, so a new reason shows up rather than vanishing.
"""
from __future__ import annotations

from dacu.metrics.definitions import BY_NAME, CROWDS

GOALS = {
    "store_visits": "提升进店", "presale_rate": "提升预售率", "cart_rate": "提升加购率", "conversion": "提升成交率",
    "member_acquisition": "会员招新", "revisit_rate": "提升回访率", "member_seeding": "会员蓄水",
    "fan_seeding": "粉丝蓄水", "promo_seeding": "大促蓄水", "recruiting": "大促招商", "presale_seeding": "预售蓄水",
    "old_customer_retention": "老客沉淀", "payment_rate": "提升付款率", "satisfaction": "提升DSR", "none": "—",
}
SCENES = {
    "promo_preferred": "大促优选", "member": "会员", "fan": "粉丝", "dedicated_service": "专属客服",
    "taobao_group": "淘宝群", "transaction": "交易/催付", "logistics": "物流/售后", "automation": "自动化",
}
KINDS = {"crowd_task": "人群策略", "scene_task": "场景任务", "payment_reminder": "催付", "notice": "通知"}
CHANNELS = {"sms": "短信", "email": "邮件", "inapp": "站内/客服消息"}
RUN_STATES = {
    "success": "成功", "failed": "失败", "running": "运行中", "queued": "排队中", "none": "尚未运行",
    "upstream_failed": "上游失败", "skipped": "已跳过", "awaiting_input": "等待人工",
}
PHASE_STATUS = {"done": "已结束", "current": "进行中", "upcoming": "未开始"}
READINESS = {"pass": "通过", "warn": "警告", "fail": "未通过"}
GATES = {
    "history": "历史订单导入完整性", "coupons": "优惠券预发(平台冻结前)", "budget": "通道余额与预算",
    "sms_lint": "短信模板检查", "carriers": "三网测试发送", "lowest_price": "30天最低价",
}
REASONS = {
    "opted_out": "已退订", "blacklisted": "黑名单", "no_consent": "未授权", "no_mobile": "无手机号",
    "invalid_mobile": "手机号无效", "no_email": "无邮箱", "unknown_customer": "客户不存在",
    "cap_daily": "超每日上限", "cap_sale": "超大促上限", "cap_reminder_daily": "超每日催付上限",
    "cap_reminder_sale": "超大促催付上限", "quiet_hours_expired": "免打扰过期", "already_sent": "已发送过",
    "no_contact": "联系方式缺失", "paid_since": "已付款", "recheck": "发送前复核排除", "unknown": "未知",
}
DECISIONS = {"Done": "已完成", "Not done": "未完成", "timeout": "超时未答复", "Approve": "已批准",
             "Reject": "已驳回", "none": "无答复"}


def label(table: dict[str, str], code: str | None) -> str:
    if code is None:
        return "—"
    return table.get(code, code)


def reason_label(code: str) -> str:
    if code.startswith("exclude:"):
        return f"排除人群 {code.split(':', 1)[1]}"
    return REASONS.get(code, code)


def crowd_label(crowd: str) -> str:
    return CROWDS.get(crowd, crowd)


def metric_label(name: str) -> str:
    m = BY_NAME.get(name)
    return m.label if m else name
