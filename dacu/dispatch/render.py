"""Rendering a strategy's ``material.template`` per channel and customer (Jinja, declared variables).

Templates are Jinja (``{{ nick }}``, filters allowed) in a sandbox, with the
playbook's short form ``{nick}`` read as ``{{ nick }}``. Only the declared
variables (``VARIABLES``) exist: an unknown one, or one the playbook cannot
fill (``{coupon}`` without ``material.coupon``), is a ``TemplateError`` raised
when the template is compiled, before any ledger row is written or any message
sent; so is a Jinja syntax error. SMS texts get the sale's signature, the
unsubscribe suffix (marketing) and, for payment reminders, "若已付款请忽略此短信"
(seed 004) and the payment link when the template lacks them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta
from jinja2.sandbox import SandboxedEnvironment

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
PER_RECIPIENT = frozenset({"nick"})
_SHORT = re.compile(r"(?<!\{)\{([^{}\s]*)\}(?!\})")      # {name}: the playbook's short form
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BARE_NICK = re.compile(r"\{\{\s*nick\s*\}\}")
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_SENTINEL = "\x00nick\x00"


class TemplateError(ValueError):
    """A template names an unknown variable or one the playbook does not provide."""


@dataclass(frozen=True)
class Template:
    strategy_id: str
    text: str                        # the Jinja source
    fields: frozenset[str]
    values: dict[str, str]           # every variable but the per-recipient ones
    _compiled: object = field(default=None, repr=False, compare=False)
    _frame: str | None = field(default=None, repr=False, compare=False)   # fast path: rendered with a sentinel

    def render(self, nick: str | None) -> str:
        nick = nick or DEFAULT_NICK
        if self._frame is not None:
            # nick only appears bare ({{ nick }}): one render at compile time, a replace per message
            return self._frame.replace(_SENTINEL, nick)
        return self._compiled.render({**self.values, "nick": nick})


def to_jinja(strategy_id: str, text: str) -> str:
    """The playbook's ``{name}`` placeholders as Jinja ``{{ name }}``; anything else in single
    braces (a format spec, an expression) is an error, as it was never a valid placeholder."""
    def repl(m: re.Match) -> str:
        name = m.group(1)
        if not _NAME.match(name):
            raise TemplateError(f"strategy {strategy_id}: material.template placeholder {{{name}}} is not a "
                                "variable name (no format specs; use Jinja {{ ... }} for filters)")
        return "{{ " + name + " }}"
    return _SHORT.sub(repl, text)


def _fields(strategy_id: str, source: str):
    try:
        ast = _ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"strategy {strategy_id}: material.template line {exc.lineno}: {exc.message}") from None
    names = meta.find_undeclared_variables(ast)
    unknown = sorted(names - set(VARIABLES))
    if unknown:
        raise TemplateError(f"strategy {strategy_id}: material.template uses unknown variable {{{unknown[0]}}} "
                            f"(known: {', '.join(sorted(VARIABLES))})")
    return frozenset(names)


def compile_template(playbook, strategy, *, link_base: str = "https://s.example.com") -> Template:
    """Check the strategy's template against the declared variables and bind the playbook's values."""
    if strategy.material is None or not strategy.material.template.strip():
        raise TemplateError(f"strategy {strategy.id}: material.template is required to dispatch")
    source = to_jinja(strategy.id, strategy.material.template)
    fields_ = _fields(strategy.id, source)
    if strategy.kind == "payment_reminder" and not fields_ & {"pay_link", "link"}:
        source += " {{ pay_link }}"            # a reminder always carries the payment link (seed 004)
        fields_ = fields_ | {"pay_link"}
    base = link_base.rstrip("/")
    values: dict[str, str] = {"sale": playbook.sale.name, "strategy": strategy.name,
                              "link": strategy.link or f"{base}/{playbook.sale.id}/{strategy.id}",
                              "pay_link": f"{base}/pay/{playbook.sale.id}",
                              "unsubscribe_link": f"{base}/unsubscribe/{playbook.sale.id}"}
    coupon_vars = fields_ & {"coupon", "coupon_value", "threshold", "valid_to"}
    if coupon_vars:
        if not strategy.material.coupon:
            raise TemplateError(f"strategy {strategy.id}: material.template uses "
                                f"{{{sorted(coupon_vars)[0]}}} but material.coupon is not set")
        c = playbook.coupon(strategy.material.coupon)
        values.update(coupon=c.name, coupon_value=f"{c.face_value:g}", threshold=f"{c.threshold:g}",
                      valid_to=c.valid_to.strftime("%m-%d %H:%M"))
    compiled = _ENV.from_string(source)
    try:
        # a trial render: anything the declared values cannot satisfy fails now, not mid-send
        compiled.render({**values, "nick": DEFAULT_NICK})
        frame = None
        if len(_BARE_NICK.findall(source)) == source.count("nick"):
            frame = compiled.render({**values, "nick": _SENTINEL})
    except (UndefinedError, TypeError, ValueError) as exc:
        raise TemplateError(f"strategy {strategy.id}: material.template cannot be rendered: {exc}") from None
    return Template(strategy.id, source, fields_, values, compiled, frame)


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
