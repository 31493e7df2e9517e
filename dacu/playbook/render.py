"""Rendering a playbook: a terminal table (``dacu playbook show``), Chinese
Markdown for a phase DAG's ``doc_md``, and JSON (``--json``)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from dacu.crowds.catalog import CROWDS
from dacu.playbook.model import CrowdRef, Phase, Playbook, Strategy
from dacu.playbook.timeparse import fmt_dt

SCENE_ZH = {
    "promo_preferred": "大促优选", "member": "会员", "fan": "粉丝", "dedicated_service": "专属客服",
    "taobao_group": "淘宝群", "transaction": "交易/催付", "logistics": "物流/售后", "automation": "自动化",
}
GOAL_ZH = {
    "store_visits": "提升进店", "presale_rate": "提升预售率", "cart_rate": "提升加购率", "conversion": "提升成交率",
    "member_acquisition": "会员招新", "revisit_rate": "提升回访率", "member_seeding": "会员蓄水",
    "fan_seeding": "粉丝蓄水", "promo_seeding": "大促蓄水", "recruiting": "大促招商", "presale_seeding": "预售蓄水",
    "old_customer_retention": "老客沉淀", "payment_rate": "提升付款率", "satisfaction": "提升DSR", "none": "—",
}
KIND_ZH = {"crowd_task": "人群策略任务", "scene_task": "业务场景玩法任务", "payment_reminder": "催付",
           "notice": "通知"}
CHANNEL_ZH = {"sms": "短信", "email": "邮件", "inapp": "站内/客服消息"}
TO_CONFIRM_ZH = "待确认"


# ---- shared summaries --------------------------------------------------------------------------

def _md(d: datetime) -> str:
    return f"{d.month}.{d.day}"


def when_text(s: Strategy) -> str:
    """The strategy's timing, compact (``06-18 09:00``; ``06-01..06-03 daily 10:00``; ...)."""
    w = s.when
    if w.form == 1:
        return ", ".join(f"{m:%m-%d %H:%M}" for m in s.moments())
    if w.form == 2:
        return f"{w.from_:%m-%d}..{w.to:%m-%d} daily {w.time:%H:%M}" + (" smart" if w.smart else "")
    after = f" +{w.after_order_minutes}m after order" if w.after_order_minutes is not None else ""
    return f"{w.from_:%m-%d %H:%M}..{w.to:%m-%d %H:%M} every {w.every_minutes}m{after}"


def when_zh(s: Strategy) -> str:
    w = s.when
    if w.form == 1:
        return "、".join(f"{_md(m)} {m:%H:%M}" for m in s.moments())
    if w.form == 2:
        return f"{_md(w.from_)}–{_md(w.to)} 每天 {w.time:%H:%M}" + ("(智能时段)" if w.smart else "")
    after = f",下单后{w.after_order_minutes}分钟" if w.after_order_minutes is not None else ""
    return f"{_md(w.from_)} {w.from_:%H:%M}–{_md(w.to)} {w.to:%H:%M} 每{w.every_minutes}分钟检查{after}"


def _params(ref: CrowdRef) -> str:
    if not ref.params:
        return ""
    return "(" + ", ".join(f"{k}={_value(v)}" for k, v in ref.params.items()) + ")"


def _value(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_value(x) for x in v) + "]"
    return fmt_dt(v) if isinstance(v, datetime) else str(v)


def crowd_text(s: Strategy, chinese: bool = False) -> str:
    """``base(params) ∩ other − excluded``; Chinese titles from the crowd catalogue if asked."""
    if s.crowd is None:
        return "—"

    def one(ref: CrowdRef) -> str:
        spec = CROWDS.get(ref.base)
        name = spec.title if chinese and spec is not None else ref.base
        return name + _params(ref)

    text = one(s.crowd)
    text += "".join(f" ∩ {one(r)}" for r in s.crowd.intersect)
    text += "".join(f" − {one(r)}" for r in s.crowd.exclude)
    return text


def wave_of(playbook: Playbook, s: Strategy) -> str | None:
    """The strategy's wave: the one it names, else the window holding its first moment."""
    try:
        phase = playbook.phase(s.phase)
    except KeyError:
        return None
    if s.wave is not None:
        return s.wave
    moments = s.moments()
    if moments:
        for w in phase.windows:
            if w.contains(moments[0]):
                return w.id
    return None


# ---- terminal table ----------------------------------------------------------------------------

def _width(text: str) -> int:
    from wcwidth import wcswidth

    n = wcswidth(text)
    return n if n >= 0 else len(text)


def _fit(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` terminal columns (CJK counts 2), marking the cut with …"""
    if _width(text) <= limit:
        return text
    from wcwidth import wcwidth

    out, used = "", 0
    for ch in text:
        w = max(wcwidth(ch), 0)
        if used + w > limit - 1:
            break
        out, used = out + ch, used + w
    return out + "…"


def table(headers: list[str], rows: list[list[str]], limits: dict[int, int] | None = None) -> str:
    """A plain-text table whose columns line up with CJK text (wcwidth)."""
    limits = limits or {}
    cells = [[_fit(str(c).replace("\n", " "), limits.get(i, 10_000)) for i, c in enumerate(r)]
             for r in [headers, *rows]]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: list[str]) -> str:
        return "  ".join(c + " " * (widths[i] - _width(c)) for i, c in enumerate(r)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def show_text(playbook: Playbook) -> str:
    sale = playbook.sale
    mark = f"  [{TO_CONFIRM_ZH}]" if sale.to_confirm else ""
    out = [f"{sale.name} ({sale.id}) · {sale.platform} · {sale.timezone}{mark}",
           f"reference day {sale.reference_day} · metrics window {sale.window.start} .. {sale.window.end}",
           "", "Calendar"]
    rows = []
    for p in playbook.phases:
        for w in p.windows:
            rows.append([p.id, p.name, w.id, w.name, fmt_dt(w.start), fmt_dt(w.end),
                         TO_CONFIRM_ZH if w.to_confirm else ""])
    out.append(table(["phase", "name", "window", "window name", "start", "end", ""], rows))
    out += ["", "Gates (time of day each phase DAG waits for)"]
    for p in playbook.phases:
        gates = ", ".join(f"{t:%H:%M}" for t in playbook.gate_times(p.id)) or "none"
        n = len(playbook.strategies_in(p.id))
        out.append(f"  {p.id}: {gates}  ({n} strategies, {len(p.days())} days)")
    out += ["", f"Strategies ({len(playbook.strategies)})"]
    rows = []
    for s in playbook.strategies:
        rows.append([
            s.id, s.name, f"{s.phase}/{wave_of(playbook, s) or '-'}", s.kind, SCENE_ZH[s.scene], when_text(s),
            crowd_text(s), ",".join(s.channels) or "-", GOAL_ZH[s.goal],
            f"{s.holdout_pct}%" if s.holdout_pct else "-", TO_CONFIRM_ZH if s.to_confirm else ""])
    out.append(table(["id", "name", "phase/wave", "kind", "scene", "when", "crowd", "channels", "goal", "holdout", ""],
                     rows, limits={0: 40, 1: 24, 2: 24, 5: 36, 6: 44}))
    if playbook.coupons:
        out += ["", f"Coupons ({len(playbook.coupons)})"]
        rows = [[c.id, c.name, c.kind, f"{c.face_value:g}/{c.threshold:g}", f"{c.budget:g}",
                 f"{fmt_dt(c.valid_from)} .. {fmt_dt(c.valid_to)}", fmt_dt(c.issue_deadline)]
                for c in playbook.coupons]
        out.append(table(["id", "name", "kind", "value/threshold", "budget", "valid", "issue by"], rows,
                         limits={1: 24}))
    return "\n".join(out) + "\n"


# ---- Markdown for the DAG's doc_md -------------------------------------------------------------

def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>") or "—"


def phase_doc_md(playbook: Playbook, phase_id: str) -> str:
    phase: Phase = playbook.phase(phase_id)
    sale = playbook.sale
    lines = [f"## {sale.name} · {phase.name}", "",
             f"大促 `{sale.id}` ({sale.platform}),时区 {sale.timezone}"
             + (f",**日期{TO_CONFIRM_ZH}**" if sale.to_confirm else "") + "。", "", "**时间窗口**", ""]
    for w in phase.windows:
        lines.append(f"- {w.name} (`{w.id}`):{fmt_dt(w.start)} – {fmt_dt(w.end)}"
                     + (f" **{TO_CONFIRM_ZH}**" if w.to_confirm else ""))
    gates = "、".join(f"{t:%H:%M}" for t in playbook.gate_times(phase_id))
    lines += ["", f"**每日关口**:{gates or '无'}", ""]
    strategies = playbook.strategies_in(phase_id)
    if not strategies:
        lines.append("本阶段没有策略。")
        return "\n".join(lines) + "\n"
    windows = {w.id: w.name for w in phase.windows}
    lines += ["| 场景类型 | 波次 | 策略 | 策略描述 | 时间 | 人群 | 渠道 | 策略效果 |",
              "|---|---|---|---|---|---|---|---|"]
    for s in strategies:
        wave = wave_of(playbook, s)
        name = f"{s.name}<br>`{s.id}`" + (f" **{TO_CONFIRM_ZH}**" if s.to_confirm else "")
        description = s.description or KIND_ZH[s.kind]
        if s.link:
            description += f" [后台链接]({s.link})"
        row = [SCENE_ZH[s.scene], windows.get(wave, "—") if wave else "—", name.replace("|", "\\|"),
               _cell(description), _cell(when_zh(s)), _cell(crowd_text(s, chinese=True)),
               _cell("、".join(CHANNEL_ZH[c] for c in s.channels)), GOAL_ZH[s.goal]]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


# ---- JSON --------------------------------------------------------------------------------------

def to_json(playbook: Playbook) -> dict[str, Any]:
    """The validated playbook plus what the calendar derives (phase bounds, gates, moments)."""
    data = playbook.model_dump(mode="json", by_alias=True, exclude={"path"})
    data["path"] = str(playbook.path) if playbook.path is not None else None
    for p_json, p in zip(data["phases"], playbook.phases):
        p_json["start"] = p.start.isoformat()
        p_json["end"] = p.end.isoformat()
        p_json["gates"] = [f"{t:%H:%M}" for t in playbook.gate_times(p.id)]
    for s_json, s in zip(data["strategies"], playbook.strategies):
        s_json["when"]["form"] = s.when.form
        s_json["moments"] = [m.isoformat() for m in s.moments()]
    return data
