"""Small inline-SVG charts for the retro report: lines, a radar, intervals. No library, no external asset.

Every function returns an ``<svg>`` element as text (HTML5 inline SVG needs no
namespace URL). Labels are escaped; missing values (None / NaN) leave gaps.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#be185d")
_FONT = 'font-size="11" fill="#374151"'


def _ok(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8, 10):   # quarters stay round (ticks at ymax/4)
        if v <= m * exp:
            return m * exp
    return 10 * exp


def _legend(series: Sequence[tuple[str, str]], x: float, y: float) -> str:
    out, cx = [], x
    for label, color in series:
        out.append(f'<rect x="{cx:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{color}"/>'
                   f'<text x="{cx + 14:.1f}" y="{y:.1f}" {_FONT}>{escape(label)}</text>')
        cx += 24 + 12 * len(label)
    return "".join(out)


def line_chart(x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *,
               title: str = "", width: int = 560, height: int = 220,
               fmt: Callable[[float], str] = lambda v: f"{v:,.0f}", dashed: Sequence[bool] = ()) -> str:
    """One line per series over the x labels; ``dashed[i]`` draws series i dashed (e.g. the peers)."""
    left, right, top, bottom = 58, 12, 30, 34
    w, h = width - left - right, height - top - bottom
    values = [v for _, vs in series for v in vs if _ok(v)]
    ymax = _nice_max(max(values) if values else 1.0)
    n = len(x_labels)
    step = w / max(n - 1, 1)

    def px(i: int) -> float:
        return left + (i * step if n > 1 else w / 2)

    def py(v: float) -> float:
        return top + h - h * v / ymax

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(title)}">']
    if title:
        parts.append(f'<text x="{left}" y="14" font-size="12" font-weight="bold" fill="#111827">{escape(title)}</text>')
    for k in range(5):
        v = ymax * k / 4
        y = py(v)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + w}" y2="{y:.1f}" stroke="#e5e7eb"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" {_FONT}>{escape(fmt(v))}</text>')
    every = max(1, math.ceil(n / 10))
    for i, lab in enumerate(x_labels):
        if i % every == 0 or i == n - 1:
            parts.append(f'<text x="{px(i):.1f}" y="{top + h + 16}" text-anchor="middle" {_FONT}>{escape(lab)}</text>')
    legend = []
    for s_i, (label, vs) in enumerate(series):
        color = PALETTE[s_i % len(PALETTE)]
        legend.append((label, color))
        dash = ' stroke-dasharray="5,4"' if s_i < len(dashed) and dashed[s_i] else ""
        run: list[str] = []
        for i, v in enumerate(vs):
            if _ok(v):
                run.append(f"{px(i):.1f},{py(v):.1f}")
                parts.append(f'<circle cx="{px(i):.1f}" cy="{py(v):.1f}" r="2.5" fill="{color}">'
                             f'<title>{escape(label)} {escape(x_labels[i])}: {escape(fmt(v))}</title></circle>')
            elif run:
                parts.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
                run = []
        if len(run) > 1:
            parts.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
    parts.append(_legend(legend, left, height - 4))
    parts.append("</svg>")
    return "".join(parts)


def radar(axes: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *, reference: float = 100.0,
          title: str = "", size: int = 340) -> str:
    """A radar (spider) chart; the dashed ring is ``reference`` (the peers' level)."""
    cx, cy = size / 2, size / 2 + 8
    r = size / 2 - 56
    values = [v for _, vs in series for v in vs if _ok(v)]
    vmax = _nice_max(max([reference * 1.25, *values]))
    k = len(axes)

    def point(i: int, v: float) -> tuple[float, float]:
        ang = -math.pi / 2 + 2 * math.pi * i / k
        d = r * max(0.0, v) / vmax
        return cx + d * math.cos(ang), cy + d * math.sin(ang)

    parts = [f'<svg class="chart" viewBox="0 0 {size} {size + 24}" width="{size}" height="{size + 24}" role="img" '
             f'aria-label="{escape(title)}">']
    if title:
        parts.append(f'<text x="8" y="14" font-size="12" font-weight="bold" fill="#111827">{escape(title)}</text>')
    for frac in (0.25, 0.5, 0.75, 1.0):
        ring = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, vmax * frac) for i in range(k)))
        parts.append(f'<polygon points="{ring}" fill="none" stroke="#e5e7eb"/>')
    ref = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, reference) for i in range(k)))
    parts.append(f'<polygon points="{ref}" fill="none" stroke="#6b7280" stroke-dasharray="4,3"/>')
    for i, name in enumerate(axes):
        x, y = point(i, vmax)
        parts.append(f'<line x1="{cx:.1f}" y1="{cy:.1f}" x2="{x:.1f}" y2="{y:.1f}" stroke="#d1d5db"/>')
        lx, ly = point(i, vmax * 1.16)
        parts.append(f'<text x="{lx:.1f}" y="{ly + 4:.1f}" text-anchor="middle" {_FONT}>{escape(name)}</text>')
    legend = [("同行同层=100", "#6b7280")]
    for s_i, (label, vs) in enumerate(series):
        color = PALETTE[s_i % len(PALETTE)]
        legend.append((label, color))
        pts = [point(i, v if _ok(v) else 0.0) for i, v in enumerate(vs)]
        parts.append(f'<polygon points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in pts)}" fill="{color}" '
                     f'fill-opacity="0.18" stroke="{color}" stroke-width="2"/>')
        for (x, y), v, name in zip(pts, vs, axes):
            shown = f"{v:.0f}" if _ok(v) else "无同行数据"
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"><title>{escape(label)} '
                         f'{escape(name)}: {shown}</title></circle>')
    parts.append(_legend(legend, 8, size + 18))
    parts.append("</svg>")
    return "".join(parts)


def interval_chart(rows: Sequence[tuple[str, float | None, float | None, float | None]], *, title: str = "",
                   width: int = 640, fmt: Callable[[float], str] = lambda v: f"{v:+.1%}") -> str:
    """A forest plot: one row per label, a point at the estimate and a bar over its 95 % interval."""
    label_w, right = 230, 70
    row_h, top = 24, 30
    height = top + row_h * max(len(rows), 1) + 28
    vals = [v for _, d, lo, hi in rows for v in (d, lo, hi) if _ok(v)]
    lo_all, hi_all = (min(vals + [0.0]), max(vals + [0.0])) if vals else (-1.0, 1.0)
    if hi_all - lo_all < 1e-12:
        lo_all, hi_all = lo_all - 1, hi_all + 1
    pad = (hi_all - lo_all) * 0.08
    lo_all, hi_all = lo_all - pad, hi_all + pad
    w = width - label_w - right

    def px(v: float) -> float:
        return label_w + w * (v - lo_all) / (hi_all - lo_all)

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(title)}">']
    if title:
        parts.append(f'<text x="4" y="14" font-size="12" font-weight="bold" fill="#111827">{escape(title)}</text>')
    zero = px(0.0)
    parts.append(f'<line x1="{zero:.1f}" y1="{top - 6}" x2="{zero:.1f}" y2="{height - 24}" stroke="#9ca3af" '
                 f'stroke-dasharray="3,3"/>')
    for k in range(5):
        v = lo_all + (hi_all - lo_all) * k / 4
        parts.append(f'<text x="{px(v):.1f}" y="{height - 8}" text-anchor="middle" {_FONT}>{escape(fmt(v))}</text>')
    for i, (label, d, lo, hi) in enumerate(rows):
        y = top + row_h * i + row_h / 2
        parts.append(f'<text x="{label_w - 8}" y="{y + 4:.1f}" text-anchor="end" {_FONT}>{escape(label[:34])}</text>')
        if _ok(lo) and _ok(hi):
            color = "#059669" if lo > 0 else ("#dc2626" if hi < 0 else "#2563eb")
            parts.append(f'<line x1="{px(lo):.1f}" y1="{y:.1f}" x2="{px(hi):.1f}" y2="{y:.1f}" stroke="{color}" '
                         f'stroke-width="3"/>')
        else:
            color = "#9ca3af"
        if _ok(d):
            ci = f" [{fmt(lo)}, {fmt(hi)}]" if _ok(lo) and _ok(hi) else ""
            parts.append(f'<circle cx="{px(d):.1f}" cy="{y:.1f}" r="4.5" fill="{color}"><title>{escape(label)}: '
                         f'{escape(fmt(d))}{escape(ci)}</title></circle>'
                         f'<text x="{width - right + 6}" y="{y + 4:.1f}" {_FONT}>{escape(fmt(d))}</text>')
        else:
            parts.append(f'<text x="{label_w + 4}" y="{y + 4:.1f}" {_FONT}>无对照组</text>')
    parts.append("</svg>")
    return "".join(parts)
