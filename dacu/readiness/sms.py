"""SMS texts as the carrier bills them, and the SMS template lint (gate 4).

Billing (China): a text of at most 70 characters is one segment; a longer one is
sent as concatenated parts of 67 characters each, so it costs ceil(n / 67). The
【signature】 and the unsubscribe suffix count. The rule itself is the gateway's
(``dacu.dispatch.gateway.state.sms_segments``) so budget and billing never disagree.

``longest_text`` renders a template exactly as dispatch will (``dacu.dispatch.render``)
with every per-recipient variable at its maximum length
(``readiness.variable_max_length``), so the budget is an upper bound.

The lint reports findings ``(loc, message, severity, strategy_id)``; ``loc`` is the
playbook path of the offending field, so ``dacu playbook lint`` can name its line.
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dacu.dispatch.gateway.state import sms_segments
from dacu.dispatch.render import PAID_NOTE, VARIABLES, TemplateError, compile_template, sms_text
from dacu.dispatch.rules import MSG_CLASS
from dacu.readiness.result import SMS_LINT, GateResult
from dacu.readiness.util import resolve_file

SIGNATURE = re.compile(r"^【[^【】]{2,12}】$")    # carriers accept 2..12 characters inside the brackets
LEADING_SIGNATURE = re.compile(r"^【[^【】]*】")
DEFAULT_UNSUBSCRIBE = "拒收请回复R"
# "during the sale" for the per-recipient variable rule (seed 004: variables slow sending then)
SALE_PHASES = ("balance", "peak")

Finding = tuple[tuple[Any, ...], str, str, str | None]

__all__ = ["SIGNATURE", "Finding", "SmsPlan", "check_sms_lint", "lint_sms", "load_banned_words", "longest_text",
           "sms_segments", "sms_strategies"]


@dataclass(frozen=True)
class SmsPlan:
    strategy_id: str
    text: str             # the longest text dispatch can send for this strategy
    length: int
    segments: int


def sms_strategies(playbook: Any) -> list[tuple[int, Any]]:
    """(index, strategy) of every strategy that sends SMS with a template."""
    return [(i, s) for i, s in enumerate(playbook.strategies)
            if "sms" in s.channels and s.material is not None and s.material.template.strip()]


def load_banned_words(path: Path) -> list[str]:
    """One word per line; blank lines and ``#`` comments ignored."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise FileNotFoundError(f"readiness.banned_words_file: cannot read {path}: {exc.strerror or exc}") from None
    return [w for w in (line.split("#", 1)[0].strip() for line in lines) if w]


def longest_text(playbook: Any, strategy: Any) -> str:
    """The strategy's SMS with per-recipient variables at their maximum length (raises TemplateError)."""
    cfg = playbook.readiness
    template = compile_template(playbook, strategy, link_base=cfg.link_base)
    sms = playbook.channels.sms
    nick = "字" * cfg.variable_max_length.get("nick", 20)
    body = template.render(nick)
    return sms_text(body, signature=sms.signature if sms else None,
                    unsubscribe=sms.unsubscribe_suffix if sms else None, msg_class=MSG_CLASS[strategy.kind])


def _placeholders(text: str) -> list[str] | str:
    try:
        return [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        return f"is malformed: {exc}"


def _during_sale(playbook: Any, strategy: Any) -> datetime | None:
    phases = [p for p in playbook.phases if p.id in SALE_PHASES]
    return next((m for m in strategy.moments() if any(p.contains(m) for p in phases)), None)


def lint_sms(playbook: Any, banned: list[str] | None = None) -> tuple[list[Finding], list[SmsPlan]]:
    """Every SMS template finding, and the longest text per SMS strategy that renders."""
    cfg = playbook.readiness
    if banned is None:
        banned = load_banned_words(resolve_file(cfg.banned_words_file))
    out: list[Finding] = []
    plans: list[SmsPlan] = []
    strategies = sms_strategies(playbook)
    if not strategies:
        return out, plans
    sms = playbook.channels.sms
    if sms is None:
        out.append((("channels",), "sms settings are required: strategies send SMS "
                    f"({', '.join(s.id for _, s in strategies[:3])}{', ...' if len(strategies) > 3 else ''})",
                    "error", None))
    else:
        if not SIGNATURE.match(sms.signature):
            out.append((("channels", "sms", "signature"),
                        f"{sms.signature!r} is not a signature 【...】 of 2 to 12 characters", "error", None))
        if not sms.unsubscribe_suffix.strip():
            out.append((("channels", "sms", "unsubscribe_suffix"),
                        f"is empty: marketing SMS must say how to opt out (e.g. {DEFAULT_UNSUBSCRIBE})", "error", None))
    per_recipient = set(cfg.per_recipient_variables)
    for i, s in strategies:
        loc = ("strategies", i, "material", "template")
        text = s.material.template
        names = _placeholders(text)
        if isinstance(names, str):
            out.append((loc, names, "error", s.id))
            continue
        unknown = sorted({n for n in names if n not in VARIABLES})
        for n in unknown:
            out.append((loc, f"uses unknown variable {{{n}}} (known: {', '.join(sorted(VARIABLES))})", "error", s.id))
        lead = LEADING_SIGNATURE.match(text)
        if sms is not None and lead and lead.group(0) != sms.signature:
            out.append((loc, f"starts with signature {lead.group(0)} but channels.sms.signature is {sms.signature}: "
                             "the SMS would carry two signatures", "error", s.id))
        elif sms is not None and not lead:
            out.append((loc, f"has no signature: dispatch prepends {sms.signature} (counted in the length)",
                        "warning", s.id))
        kind = MSG_CLASS.get(s.kind)
        if kind == "marketing" and sms is not None and sms.unsubscribe_suffix not in text:
            out.append((loc, f"lacks the unsubscribe suffix {sms.unsubscribe_suffix!r}: dispatch appends it",
                        "warning", s.id))
        if s.kind == "payment_reminder":
            if "pay_link" not in names:
                # seed 004 recommends (建议) the pay link: a warning, not a block
                out.append((loc, "is a payment reminder without the {pay_link} placeholder (seed 004: 大促期间建议"
                                 "催付短信内容中使用付款链接)", "warning", s.id))
            if PAID_NOTE not in text:
                out.append((loc, f"is a payment reminder without {PAID_NOTE!r}: dispatch appends it", "warning", s.id))
        for word in banned:
            if word in text:
                out.append((loc, f"contains the banned word {word!r} (readiness.banned_words_file): "
                                 "carriers intercept it", "error", s.id))
        used_per_recipient = sorted(per_recipient & set(names))
        moment = _during_sale(playbook, s) if used_per_recipient else None
        if moment is not None:
            out.append((loc, f"uses per-recipient variable(s) {', '.join('{' + n + '}' for n in used_per_recipient)} "
                             f"during the sale ({moment.strftime('%m-%d %H:%M')}): the channel hides variables and "
                             "sends slower then (seed 004)", "warning", s.id))
        if unknown:
            continue
        try:
            full = longest_text(playbook, s)
        except (TemplateError, KeyError) as exc:
            out.append((loc, f"cannot be rendered: {exc}", "error", s.id))
            continue
        plan = SmsPlan(s.id, full, len(full), sms_segments(full))
        plans.append(plan)
        if plan.segments > cfg.sms_max_segments:
            out.append((loc, f"is {plan.length} characters at most (variables at their maximum length): "
                             f"{plan.segments} billed segments > readiness.sms_max_segments={cfg.sms_max_segments}",
                        "warning", s.id))
    return out, plans


def check_sms_lint(playbook: Any, banned: list[str] | None = None) -> GateResult:
    """Gate 4: errors fail and block their strategy; warnings warn."""
    res = GateResult(SMS_LINT)
    try:
        findings, plans = lint_sms(playbook, banned)
    except FileNotFoundError as exc:
        res.fail(str(exc))
        for _, s in sms_strategies(playbook):
            res.block(s.id, "SMS templates cannot be checked against the banned-word list")
        return res
    for loc, message, severity, sid in findings:
        line = f"{_path(loc)} {message}"
        if severity == "error":
            res.fail(line)
            targets = [sid] if sid else [s.id for _, s in sms_strategies(playbook)]
            for t in targets:
                res.block(t, f"SMS template: {message}")
        else:
            res.warn(line)
    res.details["templates"] = {p.strategy_id: {"length": p.length, "segments": p.segments} for p in plans}
    if not res.reasons:
        res.reasons.append(f"{len(plans)} SMS template(s) clean; at most "
                           f"{max((p.segments for p in plans), default=0)} segment(s)")
    return res


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
