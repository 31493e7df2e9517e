"""Rendering a strategy's ``material.template`` per channel and customer.

Templates use ``{name}`` placeholders from a declared set; an unknown or
unavailable variable is an error raised before any message is sent. SMS texts
get the sale's signature, the unsubscribe suffix (marketing) and, for payment
reminders, "若已付款请忽略此短信" (seed 004) when the template lacks them.
"""
from __future__ import annotations

import string
from dataclasses import dataclass

from dacu.dispatch.gateway.state import sms_segments

PAID_NOTE = "若已付款请忽略此短信"
DEFAULT_UNSUBSCRIBE = "拒收请回复R"
DEFAULT_NICK = "亲"
# name -> where its value comes from (docs/dispatch.md lists them)
VARIABLES = {
    "nick": "the customer's nick (per recipient; 亲 when empty)",
    "sale": "sale.name",
    "strategy": "strategy.name",
    "coupon": "the coupon's name (material.coupon)",
    "coupon_value": "the coupon's face value",
    "threshold": "the coupon's threshold",
    "valid_to": "the coupon's valid_to (MM-DD HH:MM)",
    "link": "strategy.link, else <link_base>/<sale>/<strategy>",
    "pay_link": "<link_base>/pay/<sale>: the buyer's unpaid-orders page (payment reminders)",
    "unsubscribe_link": "<link_base>/unsubscribe/<sale> (email)",
}


class TemplateError(ValueError):
    """A template names an unknown variable or one the playbook does not provide."""


@dataclass(frozen=True)
class Template:
    strategy_id: str
    text: str
    fields: frozenset[str]
    values: dict[str, str]          # every variable but the per-recipient ones

    def render(self, nick: str | None) -> str:
        return self.text.format_map({**self.values, "nick": nick or DEFAULT_NICK})


def _fields(strategy_id: str, text: str) -> frozenset[str]:
    names = set()
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(f"strategy {strategy_id}: material.template is malformed: {exc}") from None
    for _, name, spec, conv in parsed:
        if name is None:
            continue
        if not name.isidentifier():
            raise TemplateError(f"strategy {strategy_id}: material.template placeholder {{{name}}} is not a name")
        if spec or conv:
            raise TemplateError(f"strategy {strategy_id}: material.template placeholder {{{name}}} "
                                "may not carry a format or conversion")
        if name not in VARIABLES:
            raise TemplateError(f"strategy {strategy_id}: material.template uses unknown variable {{{name}}} "
                                f"(known: {', '.join(sorted(VARIABLES))})")
        names.add(name)
    return frozenset(names)


def compile_template(playbook, strategy, *, link_base: str = "https://s.example.com") -> Template:
    """Check the strategy's template against the declared variables and bind the playbook's values."""
    if strategy.material is None or not strategy.material.template.strip():
        raise TemplateError(f"strategy {strategy.id}: material.template is required to dispatch")
    text = strategy.material.template
    fields = _fields(strategy.id, text)
    base = link_base.rstrip("/")
    values: dict[str, str] = {"sale": playbook.sale.name, "strategy": strategy.name,
                              "link": strategy.link or f"{base}/{playbook.sale.id}/{strategy.id}",
                              "pay_link": f"{base}/pay/{playbook.sale.id}",
                              "unsubscribe_link": f"{base}/unsubscribe/{playbook.sale.id}"}
    coupon_vars = fields & {"coupon", "coupon_value", "threshold", "valid_to"}
    if coupon_vars:
        if not strategy.material.coupon:
            raise TemplateError(f"strategy {strategy.id}: material.template uses "
                                f"{{{sorted(coupon_vars)[0]}}} but material.coupon is not set")
        c = playbook.coupon(strategy.material.coupon)
        values.update(coupon=c.name, coupon_value=f"{c.face_value:g}", threshold=f"{c.threshold:g}",
                      valid_to=c.valid_to.strftime("%m-%d %H:%M"))
    return Template(strategy.id, text, fields, values)


def sms_text(body: str, *, signature: str | None, unsubscribe: str | None, msg_class: str) -> str:
    text = body
    if signature and not text.startswith(signature):
        text = signature + text
    if msg_class == "reminder" and PAID_NOTE not in text:
        text += f",{PAID_NOTE}"
    if msg_class == "marketing":
        suffix = unsubscribe or DEFAULT_UNSUBSCRIBE
        if suffix not in text:
            text += f" {suffix}"
    return text


def segments(text: str) -> int:
    return sms_segments(text)
