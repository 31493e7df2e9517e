"""Render the retro (复盘) report as ONE self-contained HTML file: inline CSS, inline SVG, no script, no URL.

Opened offline it shows everything: nothing is fetched (no CDN, no font, no
image file). Chinese labels for the ops team; metric codes in small print so a
figure can be traced to docs/metrics.md.
"""
from __future__ import annotations

import math
from datetime import timezone
from html import escape

from dacu.metrics.definitions import BY_NAME, CROWDS
from dacu.metrics.peers import WARMUP_INDEX_AXES
from dacu.metrics.uplift import NOTES
from dacu.report import svg
from dacu.report.retro import PEER_METRICS, RetroData

CHANNEL_LABELS = {"sms": "短信", "email": "邮件", "inapp": "站内消息"}

CSS = """
body{font-family:-apple-system,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;margin:0;
background:#f3f4f6;color:#111827}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px;border-left:4px solid #2563eb;
padding-left:8px}h3{font-size:14px;margin:14px 0 6px}
.meta{color:#6b7280;font-size:12px}.cards{display:flex;flex-wrap:wrap;gap:12px;margin-top:14px}
.card{background:#fff;border-radius:8px;padding:12px 16px;min-width:150px;box-shadow:0 1px 2px #0001}
.card b{display:block;font-size:20px;margin-top:4px}.card span{color:#6b7280;font-size:12px}
section{background:#fff;border-radius:8px;padding:12px 18px 18px;margin-top:16px;box-shadow:0 1px 2px #0001}
.grid{display:flex;flex-wrap:wrap;gap:12px}.chart{background:#fff;max-width:100%;height:auto}
table{border-collapse:collapse;font-size:12px;margin-top:8px}th,td{border-bottom:1px solid #e5e7eb;
padding:4px 8px;text-align:right;white-space:nowrap}th{background:#f9fafb}td.l,th.l{text-align:left}
.code{color:#9ca3af;font-size:11px}.note{color:#b45309;font-size:12px}.good{color:#047857}.bad{color:#b91c1c}
.empty{color:#6b7280;font-style:italic}p.def{color:#4b5563;font-size:12px;max-width:960px}
"""


def _n(v) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{int(round(float(v))):,}"


def _money(v) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{float(v):,.2f}"


def _pct(v, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{float(v):+.2%}" if signed else f"{float(v):.2%}"


def _fmt_metric(name: str, v) -> str:
    kind = BY_NAME[name].kind if name in BY_NAME else "count"
    if kind == "rate":
        return _pct(v)
    if kind in ("amount", "value"):
        return _money(v)
    return _n(v)


_L = ' class="l"'


def _table(head: list[str], rows: list[list[str]], left: int = 1) -> str:
    """Cells are already-escaped HTML; the first ``left`` columns are left-aligned."""
    th = "".join(f'<th{_L if i < left else ""}>{h}</th>' for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(f'<td{_L if i < left else ""}>{c}</td>' for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _crowd(c: str) -> str:
    return f'{escape(CROWDS.get(c, c))} <span class="code">{escape(c)}</span>'


def _empty(text: str) -> str:
    return f'<p class="empty">{escape(text)}</p>'


# --- sections -------------------------------------------------------------------------------------

def _summary(d: RetroData) -> str:
    total = sum(d.value(day, "whole_store", "paid_amount") or 0 for day in d.days)
    best = max(d.days, key=lambda day: d.value(day, "whole_store", "paid_amount") or 0) if d.days else None
    u = d.uplift
    cards = [("快照天数", f"{len(d.days)}"), ("成交金额合计(日快照相加)", _money(total)),
             ("成交最高日", f"{best} · {_money(d.value(best, 'whole_store', 'paid_amount'))}" if best else "-"),
             ("策略增量成交额", _money(u.incremental_gmv)), ("发送成本", _money(u.total_cost)),
             ("大促ROI(增量)", "-" if math.isnan(u.roi) else f"{u.roi:,.1f}"),
             ("大促新客", _n(d.new_customers.count) if d.new_customers else "-")]
    return '<div class="cards">' + "".join(f"<div class=\"card\"><span>{escape(k)}</span><b>{escape(v)}</b></div>"
                                           for k, v in cards) + "</div>"


def _funnel(d: RetroData) -> str:
    if not d.days:
        return _empty("没有已发布的日快照 (dacu metrics snapshot / 每日数据快照 DAG)")
    labels = [f"{day:%m-%d}" for day in d.days]
    charts = []
    for c in CROWDS:
        series = [(BY_NAME[m].label, [d.value(day, c, m) for day in d.days])
                  for m in ("visitors", "cart_buyers", "paying_buyers")]
        charts.append(svg.line_chart(labels, series, title=f"{CROWDS[c]} · 进店 / 加购 / 成交买家", width=560))
    rows = []
    for day in d.days:
        for c in CROWDS:
            row = d.snapshots.get((day, c))
            if row is None:
                continue
            rows.append([f"{day}", _crowd(c)] + [_fmt_metric(m, row.get(m)) for m in
                        ("crowd_size", "visitors", "cart_buyers", "deposit_buyers", "balance_buyers",
                         "paying_buyers", "paid_amount", "visit_rate", "cart_pay_rate", "conversion_rate",
                         "amount_share")])
    head = ["日期", "人群"] + [f'{escape(BY_NAME[m].label)}<br><span class="code">{m}</span>' for m in
                             ("crowd_size", "visitors", "cart_buyers", "deposit_buyers", "balance_buyers",
                              "paying_buyers", "paid_amount", "visit_rate", "cart_pay_rate", "conversion_rate",
                              "amount_share")]
    return f'<div class="grid">{"".join(charts)}</div>' + _table(head, rows, left=2)


def _peers(d: RetroData) -> str:
    if not d.peers:
        return _empty("未导入同行同层数据 (dacu data import-peers FILE --sale-id " + d.sale_id + ")")
    labels = [f"{day:%m-%d}" for day in d.days]
    charts = []
    for c in CROWDS:
        for m in ("conversion_rate", "visit_rate"):
            peer = [d.peer(day, c, m) for day in d.days]
            if any(p is not None for p in peer):
                charts.append(svg.line_chart(labels, [("本店", [d.value(day, c, m) for day in d.days]),
                                                      ("同行同层", peer)],
                                             title=f"{CROWDS[c]} · {BY_NAME[m].label}", width=380, height=200,
                                             fmt=lambda v: f"{v:.1%}", dashed=[False, True]))
    rows = []
    for c in CROWDS:
        for m in PEER_METRICS + ["visitors", "cart_buyers", "paying_buyers", "paid_amount"]:
            pairs = [(d.value(day, c, m), d.peer(day, c, m)) for day in d.days]
            pairs = [(s, p) for s, p in pairs if s is not None and p is not None]
            if not pairs:
                continue
            shop = sum(s for s, _ in pairs) / len(pairs)
            peer = sum(p for _, p in pairs) / len(pairs)
            gap = (shop / peer - 1) if peer else math.nan
            cls = "good" if gap >= 0 else "bad"
            rows.append([_crowd(c), f'{escape(BY_NAME[m].label)} <span class="code">{m}</span>', f"{len(pairs)}",
                         _fmt_metric(m, shop), _fmt_metric(m, peer),
                         f'<span class="{cls}">{_pct(gap, signed=True)}</span>'])
    table = _table(["人群", "指标", "天数", "本店日均", "同行同层日均", "本店较同行"], rows, left=2) if rows else \
        _empty("同行数据与已发布快照没有相同的日期")
    return f'<div class="grid">{"".join(charts)}</div>' + table


def _warmup(d: RetroData) -> str:
    axes = list(WARMUP_INDEX_AXES)
    have = [c for c in ("new", "old") if d.warmup.get(c) and d.warmup[c].days]
    intro = ('<p class="def">预热指数 = 100 × 预热期内本店合计 ÷ 同行同层合计 (100 = 与同行持平), 按新客/老客与'
             '访客、收藏、加购、领券、购买五个维度计算; 总指数为各维度平均。只计同时有本店预热数据和同行数据的日期'
             f' (本报告: {len(d.warmup_days)} 天)。</p>')
    if not have:
        return intro + _empty("预热期没有可与同行对比的数据 (需要预热期的日快照和同行同层数据)")
    chart = svg.radar([WARMUP_INDEX_AXES[a] for a in axes],
                      [(CROWDS[c], [d.warmup[c].axes[a] for a in axes]) for c in have], title="预热指数雷达图")
    days = sorted({day for c in have for day in d.warmup[c].daily})
    daily = svg.line_chart([f"{day:%m-%d}" for day in days],
                           [(f"{CROWDS[c]}预热指数", [d.warmup[c].daily.get(day) for day in days]) for c in have],
                           title="每日预热指数 (100 = 同行同层)", width=480, height=220, fmt=lambda v: f"{v:.0f}")
    rows = [[_crowd(c)] + [("-" if d.warmup[c].axes[a] is None else f"{d.warmup[c].axes[a]:.0f}") for a in axes]
            + [("-" if d.warmup[c].overall is None else f"{d.warmup[c].overall:.0f}"), f"{d.warmup[c].days}"]
            for c in have]
    table = _table(["人群"] + [escape(WARMUP_INDEX_AXES[a]) for a in axes] + ["总指数", "天数"], rows)
    return intro + f'<div class="grid">{chart}{daily}</div>' + table


def _strategy_label(d: RetroData, sid: str) -> str:
    name = d.strategy_names.get(sid)
    return f"{name} ({sid})" if name else sid


def _uplift(d: RetroData) -> str:
    u = d.uplift
    if not u.strategies:
        return _empty("本次大促没有人群策略的分群记录 (segment_runs)")
    measured = [s for s in u.strategies if s.holdout.customers]
    intro = (f'<p class="def">对每个策略的每次触发(闸门时刻)冻结的人群: 实验组(发送) vs 对照组(holdout, 不发送)。'
             f'转化 = 闸门时刻起 {u.attribution_days} 天内(playbook metrics.attribution_days)有支付; 人均成交额 = '
             f'窗口内支付金额 / 人数。差值的 95% 置信区间: 转化率用两比例正态近似, 人均成交额用 Welch t 区间。'
             f'绿色区间整体大于 0, 红色整体小于 0, 蓝色跨 0 (不显著)。</p>')
    charts = ""
    if measured:
        charts = ('<div class="grid">' + svg.interval_chart(
            [(_strategy_label(d, s.strategy_id), s.conv_diff, s.conv_low, s.conv_high) for s in measured],
            title="转化率提升 (实验组 − 对照组, 95% 区间)")
            + svg.interval_chart(
            [(_strategy_label(d, s.strategy_id), s.gmv_diff, s.gmv_low, s.gmv_high) for s in measured],
            title="人均成交额提升 (元, 95% 区间)", fmt=lambda v: f"{v:+,.1f}") + "</div>")
    rows = []
    for s in u.strategies:
        notes = "; ".join(NOTES[n] for n in s.notes)
        rows.append([escape(_strategy_label(d, s.strategy_id)), f"{s.runs}", _n(s.treated.customers),
                     _n(s.holdout.customers), _pct(s.treated.rate), _pct(s.holdout.rate),
                     f"{_pct(s.conv_diff, True)}<br>[{_pct(s.conv_low, True)}, {_pct(s.conv_high, True)}]",
                     _money(s.treated.mean), _money(s.holdout.mean),
                     f"{_money(s.gmv_diff)}<br>[{_money(s.gmv_low)}, {_money(s.gmv_high)}]",
                     f'<span class="note">{escape(notes)}</span>'])
    head = ["策略", "触发次数", "实验组人数", "对照组人数", "实验组转化率", "对照组转化率", "转化率提升 [95%]",
            "实验组人均", "对照组人均", "人均提升 [95%]", "说明"]
    return intro + charts + _table(head, rows)


def _roi(d: RetroData) -> str:
    u = d.uplift
    channels = sorted(u.cost_by_channel)
    rows = []
    for s in u.strategies:
        rows.append([escape(_strategy_label(d, s.strategy_id))]
                    + [f"{_money(s.cost_by_channel.get(ch))}<br><span class=\"code\">{_n(s.sent_by_channel.get(ch))} 条</span>"
                       if ch in s.cost_by_channel else "-" for ch in channels]
                    + [_money(s.cost), _money(s.treated.gmv), _money(s.incremental_gmv),
                       "-" if math.isnan(s.roi) else f"{s.roi:,.1f}",
                       "-" if math.isnan(s.gross_roi) else f"{s.gross_roi:,.1f}"])
    rows.append(["<b>全部策略</b>"] + [f"<b>{_money(u.cost_by_channel[ch])}</b>" for ch in channels]
                + [f"<b>{_money(u.total_cost)}</b>", "", f"<b>{_money(u.incremental_gmv)}</b>",
                   f"<b>{'-' if math.isnan(u.roi) else f'{u.roi:,.1f}'}</b>", ""])
    head = (["策略"] + [f"{escape(CHANNEL_LABELS.get(ch, ch))}成本" for ch in channels]
            + ["总成本", "实验组成交额", "增量成交额", "ROI(增量)", "ROI(毛, 种子003)"])
    intro = ('<p class="def">成本 = 已发送(state sent)消息的计费成本, 按渠道; 增量成交额 = 人均成交额提升 × 实验组人数; '
             'ROI(增量) = 增量成交额 ÷ 成本; ROI(毛) = 实验组窗口内成交额 ÷ 成本 (种子003: GMV / 成本)。'
             f'大促ROI = 有对照组的策略增量成交额合计 ÷ 其成本 ({_money(u.measured_cost)} 元); 全部发送成本 '
             f'{_money(u.total_cost)} 元。</p>')
    return intro + _table(head, rows)


def _new_customers(d: RetroData) -> str:
    nc = d.new_customers
    if nc is None:
        return _empty("无")
    archived = (f"已归档进培养分组: <b>{_n(nc.archived)}</b> 人 (策略 {escape(_strategy_label(d, nc.archived_by))}"
                " 最近一次分群)" if nc.archived is not None else "尚未有归档分群记录")
    return (f'<div class="cards"><div class="card"><span>大促新客 (sale_new_customers)</span><b>{_n(nc.count)}</b>'
            f'</div></div><p class="def">首笔支付订单落在 {nc.start:%Y-%m-%d %H:%M} – {nc.end:%Y-%m-%d %H:%M} '
            f'({escape(d.timezone)}) 的客户, 统计于 {nc.as_of:%Y-%m-%d %H:%M}。{archived}。</p>')


def _saved(d: RetroData) -> str:
    if not d.saved_crowds:
        return _empty("本次大促没有分群快照")
    rows = [[escape(_strategy_label(d, s.strategy_id)), f"{s.runs}", f"{s.last_as_of:%Y-%m-%d %H:%M}",
             _n(s.crowd_size), _n(s.treatment), _n(s.holdout), f'<span class="code">{escape(s.last_run_key)}</span>']
            for s in d.saved_crowds]
    return ('<p class="def">每次分群冻结在 crowd_snapshots (sale_id, strategy_id, run_key), 可作为下次大促的种子人群'
            ' 或对照; 下表为每个策略最近一次分群。</p>'
            + _table(["策略", "分群次数", "最近分群时刻", "人群数", "实验组", "对照组", "run_key"], rows))


def render_retro(d: RetroData) -> str:
    """The whole report as one HTML document (no external reference of any kind)."""
    gen_local = d.generated_at.replace(tzinfo=timezone.utc)
    sections = [
        ("funnel", "每日分人群漏斗", _funnel(d)),
        ("peers", "同行同层对比", _peers(d)),
        ("warmup", "预热指数雷达", _warmup(d)),
        ("uplift", "策略增量 (实验组 vs 对照组)", _uplift(d)),
        ("roi", "成本与ROI", _roi(d)),
        ("new-customers", "大促新客归档", _new_customers(d)),
        ("saved-crowds", "沉淀人群 (供下次大促使用)", _saved(d)),
    ]
    phases = " · ".join(f"{escape(name)} {a:%m-%d}–{b:%m-%d}" for _, name, a, b in d.phases)
    body = "".join(f'<section id="{sid}"><h2>{escape(title)}</h2>{html}</section>' for sid, title, html in sections)
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(d.sale_name)} 复盘报告</title><style>{CSS}</style></head><body><main>"
        f"<h1>{escape(d.sale_name)} · 大促复盘报告</h1>"
        f'<div class="meta">{escape(d.sale_id)} · 统计窗口 {d.window[0]} – {d.window[1]} ({escape(d.timezone)}) · '
        f"生成于 {gen_local:%Y-%m-%d %H:%M} UTC · 仅使用已通过校验并发布的快照</div>"
        f'<div class="meta">{phases}</div>'
        f"{_summary(d)}{body}"
        '<p class="def">指标口径见 docs/metrics.md (种子000 §四; 预热视图与指数见种子002; 策略漏斗与ROI见种子003)。</p>'
        "</main></body></html>"
    )
