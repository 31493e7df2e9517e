"""Rules that relate one part of a playbook to another.

``model.py`` checks each item's shape; these checks need the whole file (a
strategy's phase exists, its moments fall inside the phase's windows, its
crowd is in the catalogue, its coupon is issued before first use, ...).
Items that failed shape validation arrive as ``None``; their raw ids still
count as known so one typo does not cascade into a page of errors.
Each finding is ``(loc, message, severity)``; the loader turns ``loc`` into
a file line.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dacu.crowds.catalog import CROWDS
from dacu.playbook.model import (
    CROWD_KINDS, FILTER_PARAMS, FILTERED_CROWD, Channels, Coupon, CrowdRef, Phase, Sale, Strategy, Window,
)
from dacu.playbook.timeparse import fmt_dt

Loc = tuple[str | int, ...]
Finding = tuple[Loc, str, str]    # (loc, message, "error" | "warning")

_FORM_HELP = ("use one form: 'at: [...]'; or 'from'/'to' dates with 'time'; "
              "or 'from'/'to' times with 'every_minutes'")


@dataclass
class Parts:
    """The validated pieces of one file (``None`` where an item failed validation)."""
    sale: Sale | None
    phases: list[Phase | None]
    strategies: list[Strategy | None]
    coupons: list[Coupon | None]
    channels: Channels | None
    raw_phase_ids: set[str] = field(default_factory=set)
    raw_coupon_ids: set[str] = field(default_factory=set)


def check(parts: Parts) -> list[Finding]:
    out: list[Finding] = []
    if parts.sale is not None:
        out += _check_sale(parts.sale)
    phases = _check_phases(parts, out)
    coupons = _check_coupon_ids(parts, out)
    first_use, used = _check_strategies(parts, phases, coupons, out)
    _check_coupons(parts, first_use, used, out)
    for i, p in enumerate(parts.phases):
        # the readiness phase runs the readiness checks even without strategies
        if p is not None and p.id != "readiness" and phases.get(p.id) is p \
                and not any(s is not None and s.phase == p.id for s in parts.strategies):
            out.append((("phases", i, "id"), f"phase {p.id} has no strategies", "warning"))
    return out


# ---- sale and phases ---------------------------------------------------------------------------

def _check_sale(sale: Sale) -> list[Finding]:
    out: list[Finding] = []
    if sale.window.end < sale.window.start:
        out.append((("sale", "window", "end"), "is before start", "error"))
    elif sale.reference_day > sale.window.end:
        out.append((("sale", "reference_day"),
                    f"{sale.reference_day} is after the sale window's end {sale.window.end}", "error"))
    if sale.to_confirm:
        out.append((("sale", "to_confirm"), "the sale's dates are to be confirmed", "warning"))
    return out


def _check_phases(parts: Parts, out: list[Finding]) -> dict[str, Phase]:
    phases: dict[str, Phase] = {}
    first_index: dict[str, int] = {}
    for i, p in enumerate(parts.phases):
        if p is None:
            continue
        if p.id in first_index:
            out.append((("phases", i, "id"), f"duplicate phase id '{p.id}' (first at phases[{first_index[p.id]}])",
                        "error"))
            continue
        first_index[p.id] = i
        phases[p.id] = p
        seen: dict[str, int] = {}
        for j, w in enumerate(p.windows):
            loc = ("phases", i, "windows", j)
            if w.end < w.start:
                out.append(((*loc, "end"), "is before start", "error"))
            elif w.end == w.start:
                out.append(((*loc, "end"), "equals start (a window needs end > start)", "error"))
            if w.id in seen:
                out.append(((*loc, "id"), f"duplicate window id '{w.id}' in phase {p.id} "
                                          f"(first at windows[{seen[w.id]}])", "error"))
            seen.setdefault(w.id, j)
            if w.to_confirm:
                out.append(((*loc, "to_confirm"), f"window {p.id}.{w.id} dates are to be confirmed", "warning"))
    return phases


def _check_coupon_ids(parts: Parts, out: list[Finding]) -> dict[str, Coupon]:
    coupons: dict[str, Coupon] = {}
    first_index: dict[str, int] = {}
    for i, c in enumerate(parts.coupons):
        if c is None:
            continue
        if c.id in first_index:
            out.append((("coupons", i, "id"), f"duplicate coupon id '{c.id}' (first at coupons[{first_index[c.id]}])",
                        "error"))
            continue
        first_index[c.id] = i
        coupons[c.id] = c
    return coupons


def _check_coupons(parts: Parts, first_use: dict[str, tuple[datetime, str]], used: set[str],
                   out: list[Finding]) -> None:
    for i, c in enumerate(parts.coupons):
        if c is None:
            continue
        loc = ("coupons", i)
        if c.valid_to <= c.valid_from:
            out.append(((*loc, "valid_to"), f"{fmt_dt(c.valid_to)} is not after valid_from {fmt_dt(c.valid_from)}",
                        "error"))
        use, what = c.valid_from, f"valid_from {fmt_dt(c.valid_from)}"
        if c.id in first_use and first_use[c.id][0] < use:
            use, what = first_use[c.id][0], f"strategy {first_use[c.id][1]} at {fmt_dt(first_use[c.id][0])}"
        if c.issue_deadline >= use:
            out.append(((*loc, "issue_deadline"),
                        f"{fmt_dt(c.issue_deadline)} is not before the coupon's first use ({what})", "error"))
        if c.id not in used:
            out.append(((*loc, "id"), f"coupon {c.id} is not used by any strategy", "warning"))


# ---- strategies --------------------------------------------------------------------------------

def _check_strategies(parts: Parts, phases: dict[str, Phase], coupons: dict[str, Coupon],
                      out: list[Finding]) -> tuple[dict[str, tuple[datetime, str]], set[str]]:
    """Check every strategy; return (coupon id -> (first moment of use, strategy id), coupon ids used)."""
    known_phases = set(phases) | parts.raw_phase_ids
    known_coupons = set(coupons) | parts.raw_coupon_ids
    first_index: dict[str, int] = {}
    first_use: dict[str, tuple[datetime, str]] = {}
    used: set[str] = set()
    for i, s in enumerate(parts.strategies):
        if s is None:
            continue
        loc: Loc = ("strategies", i)
        if s.id in first_index:
            out.append(((*loc, "id"), f"duplicate strategy id '{s.id}' (first at strategies[{first_index[s.id]}])",
                        "error"))
        first_index.setdefault(s.id, i)
        phase = phases.get(s.phase)
        if s.phase not in known_phases:
            out.append(((*loc, "phase"), f"unknown phase '{s.phase}'{_among('phases of this file', known_phases)}",
                        "error"))
        wave = None
        if phase is not None and s.wave is not None:
            wave = next((w for w in phase.windows if w.id == s.wave), None)
            if wave is None:
                out.append(((*loc, "wave"), f"'{s.wave}' is not a window of phase {phase.id}"
                                            f"{_among('windows', [w.id for w in phase.windows])}", "error"))
        when_ok = _check_when(s, loc, out)
        moments = s.moments() if when_ok else []
        if when_ok and phase is not None and all(w.end > w.start for w in phase.windows):
            _check_moments(s, phase, wave, loc, out)
        _check_kind(s, loc, out)
        for cloc, ref in _crowd_refs(s, loc):
            _check_crowd_ref(ref, cloc, known_coupons, out)
        _check_filters(s, loc, out)
        if s.material is not None:
            coupon = s.material.coupon
            if coupon is not None and coupon not in known_coupons:
                out.append(((*loc, "material", "coupon"),
                            f"unknown coupon '{coupon}'{_among('coupons of this file', known_coupons)}", "error"))
            if "{coupon}" in s.material.template and coupon is None:
                out.append(((*loc, "material", "template"), "uses {coupon} but material.coupon is not set",
                            "warning"))
        for coupon_id in _coupons_used(s):
            used.add(coupon_id)
            if moments and (coupon_id not in first_use or moments[0] < first_use[coupon_id][0]):
                first_use[coupon_id] = (moments[0], s.id)
        _check_channels(s, parts.channels, moments, loc, out)
        if s.to_confirm:
            out.append(((*loc, "to_confirm"), f"strategy {s.id} is to be confirmed", "warning"))
    return first_use, used


def _check_when(s: Strategy, loc: Loc, out: list[Finding]) -> bool:
    """Exactly one of the three forms, complete and ordered; False if the moments cannot be trusted."""
    w, wl = s.when, (*loc, "when")
    given = [k for k, v in (("at", w.at), ("from", w.from_), ("to", w.to), ("time", w.time),
                            ("every_minutes", w.every_minutes), ("after_order_minutes", w.after_order_minutes))
             if v is not None] + (["smart"] if w.smart else [])
    errors_before = len(out)

    def err(where: Loc, message: str) -> None:
        out.append((where, message, "error"))

    if w.at is not None:
        for k in given:
            if k != "at":
                err((*wl, k), f"does not go with 'at' ({_FORM_HELP})")
        if not w.at:
            err((*wl, "at"), "lists no moment")
    elif w.time is not None:
        for k in ("every_minutes", "after_order_minutes"):
            if k in given:
                err((*wl, k), f"does not go with 'time' ({_FORM_HELP})")
        for k, v in (("from", w.from_), ("to", w.to)):
            if v is None:
                err(wl, f"needs '{k}' (a date) with 'time'")
            elif isinstance(v, datetime):
                err((*wl, k), "must be a date YYYY-MM-DD with 'time' (a daily send at that time)")
        if len(out) == errors_before and w.to < w.from_:
            err((*wl, "to"), f"{w.to} is before from {w.from_}")
    elif not given:
        err(wl, f"is empty ({_FORM_HELP})")
    else:
        if "smart" in given:
            err((*wl, "smart"), "goes only with 'time' (a daily send)")
        for k, v in (("from", w.from_), ("to", w.to)):
            if v is None:
                err(wl, f"needs '{k}' ({_FORM_HELP})")
            elif not isinstance(v, datetime):
                err((*wl, k), "must be a \"YYYY-MM-DD HH:MM\" time in an event-driven window "
                              "(or add 'time' for a daily send)")
        if w.every_minutes is None:
            err(wl, "an event-driven window needs 'every_minutes'")
        if len(out) == errors_before and w.to <= w.from_:
            err((*wl, "to"), f"{fmt_dt(w.to)} is not after from {fmt_dt(w.from_)}")
    return len(out) == errors_before


def _check_moments(s: Strategy, phase: Phase, wave: Window | None, loc: Loc, out: list[Finding]) -> None:
    """Every moment (and a form-3 window's end) must fall inside the phase's windows."""
    w, wl = s.when, (*loc, "when")
    checks: list[tuple[Loc, datetime]] = []
    if w.form == 1:
        checks = [((*wl, "at", k), m) for k, m in enumerate(w.at)]
    elif w.form == 2:
        for m in s.moments():
            where = "from" if m.date() == w.from_ else "to"
            checks.append(((*wl, where), m))
    else:
        checks = [((*wl, "from"), w.from_), ((*wl, "to"), w.to)] + [((*wl, "to"), m) for m in s.moments()[1:]]
    bad = [(where, m) for where, m in checks if not phase.contains(m)]
    if bad:
        where, m = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        out.append((where, f"moment {fmt_dt(m)} of strategy {s.id} is outside the windows of phase {phase.id} "
                           f"({_ranges(phase.windows)}){more}", "error"))
        return
    if wave is not None:
        off = [(where, m) for where, m in checks if not wave.contains(m)]
        if off:
            where, m = off[0]
            out.append((where, f"moment {fmt_dt(m)} of strategy {s.id} is outside its wave {wave.id} "
                               f"({_ranges([wave])})", "warning"))


def _check_kind(s: Strategy, loc: Loc, out: list[Finding]) -> None:
    if s.kind in CROWD_KINDS:
        if s.crowd is None:
            out.append(((*loc, "crowd"), f"is required for kind {s.kind}", "error"))
        if not s.channels:
            out.append(((*loc, "channels"), f"needs at least one channel for kind {s.kind}", "error"))
        if s.material is None:
            out.append(((*loc, "material"), f"is missing: a {s.kind} has no message to send", "warning"))
        if s.link is not None:
            out.append(((*loc, "link"), f"only a scene_task carries a link (kind is {s.kind})", "error"))
    elif s.crowd is not None:
        out.append(((*loc, "crowd"), "a scene_task has no crowd (a person does the work in the back office)",
                    "error"))


def _crowd_refs(s: Strategy, loc: Loc) -> list[tuple[Loc, CrowdRef]]:
    if s.crowd is None:
        return []
    cl = (*loc, "crowd")
    refs: list[tuple[Loc, CrowdRef]] = [(cl, s.crowd)]
    refs += [((*cl, "intersect", k), r) for k, r in enumerate(s.crowd.intersect)]
    refs += [((*cl, "exclude", k), r) for k, r in enumerate(s.crowd.exclude)]
    return refs


def _check_crowd_ref(ref: CrowdRef, loc: Loc, known_coupons: set[str], out: list[Finding]) -> None:
    spec = CROWDS.get(ref.base)
    if spec is None:
        close = difflib.get_close_matches(ref.base, CROWDS, n=3, cutoff=0.5)
        hint = f" (did you mean: {', '.join(close)}?)" if close else " (see dacu/crowds/catalog.py)"
        out.append(((*loc, "base"), f"unknown crowd '{ref.base}'{hint}", "error"))
        return
    for name in ref.params:
        if name not in spec.params:
            allowed = ", ".join(spec.params) or "none"
            out.append(((*loc, "params", name), f"unknown parameter '{name}' of crowd {spec.name} "
                                                f"(parameters: {allowed})", "error"))
    for name in ref.params:
        if name in FILTER_PARAMS and spec.name == FILTERED_CROWD:
            out.append(((*loc, "params", name), f"is a payment-reminder filter: set it under the strategy's "
                                                f"filters ({', '.join(FILTER_PARAMS)})", "error"))
    for name, default in spec.params.items():
        if default is None and name not in spec.optional and ref.params.get(name) is None:
            where = (*loc, "params") if ref.params else (*loc, "base")
            out.append((where, f"crowd {spec.name} needs parameter '{name}'", "error"))
    for k, coupon_id in enumerate(_as_list(ref.params.get("coupon_ids"))):
        if spec.name == "unredeemed_coupon_holders" and coupon_id not in known_coupons:
            out.append(((*loc, "params", "coupon_ids"), f"coupon '{coupon_id}' is not a coupon of this file",
                        "warning"))


def _check_filters(s: Strategy, loc: Loc, out: list[Finding]) -> None:
    """A reminder's order filters: on a payment_reminder whose crowd is unpaid_orders, and consistent."""
    f, fl = s.filters, (*loc, "filters")
    if f is None:
        return
    if s.kind != "payment_reminder":
        out.append((fl, f"only a payment_reminder has order filters (kind is {s.kind})", "error"))
    elif s.crowd is not None and s.crowd.base != FILTERED_CROWD:
        out.append((fl, f"filter the orders of crowd {FILTERED_CROWD}; crowd {s.crowd.base} has no orders "
                        "to filter", "error"))
    if f.min_amount is not None and f.max_amount is not None and f.max_amount < f.min_amount:
        out.append(((*fl, "max_amount"), f"{f.max_amount:g} is less than min_amount {f.min_amount:g}", "error"))
    both = sorted(set(f.include_skus) & set(f.exclude_skus))
    if both:
        out.append(((*fl, "exclude_skus"), f"{', '.join(both)} also in include_skus (an order cannot both "
                                           "need and not have a SKU)", "error"))
    if not f.crowd_params():
        out.append((fl, "sets no filter (remove it, or set min_amount, max_amount, exclude_seller_flags, "
                        "include_skus or exclude_skus)", "warning"))


def _coupons_used(s: Strategy) -> list[str]:
    used = [s.material.coupon] if s.material is not None and s.material.coupon else []
    for _, ref in _crowd_refs(s, ()):
        if ref.base == "unredeemed_coupon_holders":
            used += [str(c) for c in _as_list(ref.params.get("coupon_ids"))]
    return used


def _check_channels(s: Strategy, channels: Channels | None, moments: list[datetime], loc: Loc,
                    out: list[Finding]) -> None:
    if channels is None:
        return
    for name in s.channels:
        settings = getattr(channels, name)
        if settings is None:
            out.append(((*loc, "channels"), f"channel {name} has no settings under channels", "warning"))
            continue
        # quiet hours bind marketing sends only; a smart send picks its own hour
        quiet = settings.quiet_hours
        if quiet is None or s.kind != "crowd_task" or s.when.form == 3 or s.when.smart:
            continue
        hit = next((m for m in moments if quiet.contains(m.time())), None)
        if hit is not None:
            out.append(((*loc, "when"), f"moment {fmt_dt(hit)} is inside the {name} quiet hours "
                                        f"{quiet.start:%H:%M}–{quiet.end:%H:%M} (marketing)", "warning"))


# ---- helpers -----------------------------------------------------------------------------------

def _among(what: str, names: Any) -> str:
    names = sorted(str(n) for n in names)
    return f" ({what}: {', '.join(names)})" if names else ""


def _ranges(windows: list[Window]) -> str:
    return ", ".join(f"{fmt_dt(w.start)}–{fmt_dt(w.end)}" for w in windows)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


__all__ = ["Parts", "Finding", "check"]
