"""Send-time rules: who may be messaged now, on which channel, within which caps.

Defaults (docs/dispatch.md; a playbook's ``channels:`` and a strategy's
``caps:`` override them):
- marketing: 1 SMS, 1 email, 2 in-app messages per customer per sale-local day,
  across all strategies of the sale;
- payment reminders (催付, seed 004): at most 2 per customer per sale and 1 per day;
- notices (shipping, DSR care) are transactional: no cap, no quiet hours;
- quiet hours for marketing SMS 20:00–08:00 sale-local; email / in-app only if
  the playbook sets them. A marketing message planned inside quiet hours is held
  until the window opens and expires ``hold_expiry`` after that;
- blacklisted: never; no consent on the channel: never; opted out (退订): no
  marketing from the opt-out moment on (reminders and notices still go, they are
  about the customer's own order).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

MSG_CLASS = {"crowd_task": "marketing", "payment_reminder": "reminder", "notice": "notice"}
GATEWAY_KIND = {"marketing": "marketing", "reminder": "transactional", "notice": "transactional"}
DEFAULT_DAILY_CAP = {"sms": 1, "email": 1, "inapp": 2}
DEFAULT_SMS_QUIET = (time(20, 0), time(8, 0))
REMINDERS_PER_DAY = 1
REMINDERS_PER_SALE = 2
DEFAULT_HOLD_EXPIRY = timedelta(hours=4)
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


@dataclass(frozen=True)
class ChannelPolicy:
    channel: str
    quiet: tuple[time, time] | None
    daily_cap: int
    unit_price: float = 0.0
    signature: str | None = None
    unsubscribe: str | None = None
    sender: str | None = None


def channel_policy(playbook, channel: str) -> ChannelPolicy:
    cfg = getattr(playbook.channels, channel, None)
    quiet = (cfg.quiet_hours.start, cfg.quiet_hours.end) if cfg is not None and cfg.quiet_hours else None
    if channel == "sms":
        return ChannelPolicy("sms", quiet or DEFAULT_SMS_QUIET,
                             cfg.daily_cap if cfg is not None else DEFAULT_DAILY_CAP["sms"],
                             cfg.unit_price if cfg is not None else 0.0,
                             cfg.signature if cfg is not None else None,
                             cfg.unsubscribe_suffix if cfg is not None else None)
    if channel == "email":
        return ChannelPolicy("email", quiet, cfg.daily_cap if cfg is not None else DEFAULT_DAILY_CAP["email"],
                             sender=cfg.sender if cfg is not None else None)
    if channel == "inapp":
        return ChannelPolicy("inapp", quiet, cfg.daily_cap if cfg is not None else DEFAULT_DAILY_CAP["inapp"])
    raise ValueError(f"unknown channel {channel!r}")


def in_quiet_hours(t: time, quiet: tuple[time, time]) -> bool:
    start, end = quiet
    if start == end:
        return False
    if start < end:
        return start <= t < end
    return t >= start or t < end            # wraps past midnight


def quiet_hold(local: datetime, quiet: tuple[time, time] | None,
               expiry: timedelta = DEFAULT_HOLD_EXPIRY) -> tuple[datetime, datetime] | None:
    """If ``local`` (aware, sale-local) is inside quiet hours: (opens_at, expires_at), else None."""
    if quiet is None or not in_quiet_hours(local.timetz().replace(tzinfo=None), quiet):
        return None
    start, end = quiet
    day = local.date()
    if start > end and local.time() >= start:
        day = day + timedelta(days=1)        # 21:00 -> 08:00 the next morning
    opens = datetime.combine(day, end, tzinfo=local.tzinfo)
    return opens, opens + expiry


# A customer's contact row as the dispatcher reads it (include/sql/dispatch/customers_contact.sql):
# a plain tuple in this column order, one per customer and batch (no per-row dict or object).
CONTACT_COLUMNS = ("customer_id", "nick", "mobile", "email", "consent_sms", "consent_email", "consent_inapp",
                   "opted_out_at", "blacklisted")
C_ID, C_NICK, C_MOBILE, C_EMAIL = 0, 1, 2, 3
_C_CONSENT = {"sms": 4, "email": 5, "inapp": 6}
C_OPTED_OUT, C_BLACKLISTED = 7, 8


def contact_block(customer: tuple | None, channel: str, msg_class: str, send_utc: datetime) -> str | None:
    """The reason this customer (a ``CONTACT_COLUMNS`` tuple) may not get this message now, or None."""
    if customer is None:
        return "unknown_customer"
    if customer[C_BLACKLISTED]:
        return "blacklisted"
    if not customer[_C_CONSENT[channel]]:
        return "no_consent"
    if msg_class == "marketing" and customer[C_OPTED_OUT] is not None and customer[C_OPTED_OUT] <= send_utc:
        return "opted_out"
    if channel == "sms":
        mobile = customer[C_MOBILE]
        if not mobile:
            return "no_mobile"
        if not _MOBILE.match(mobile):
            return "invalid_mobile"
    if channel == "email" and (not customer[C_EMAIL] or "@" not in customer[C_EMAIL]):
        return "no_email"
    return None


def recipient(customer: tuple, channel: str) -> str:
    if channel == "sms":
        return customer[C_MOBILE]
    if channel == "email":
        return customer[C_EMAIL]
    return customer[C_ID]                     # in-app / customer-service: the platform's customer id


@dataclass(frozen=True)
class CapScope:
    scope: str
    period: str
    cap: int
    reason: str


def cap_scopes(sale_id: str, strategy, policy: ChannelPolicy, msg_class: str, local_day: date) -> list[CapScope]:
    """The caps a message takes a slot in, the per-sale one first (the rarer to be full)."""
    caps = strategy.caps
    per_day = caps.per_customer_per_day if caps is not None else None
    per_sale = caps.per_customer_per_sale if caps is not None else None
    day = f"{sale_id}/{local_day.isoformat()}"
    if msg_class == "marketing":
        out = []
        if per_sale is not None:
            out.append(CapScope("mkt_sale", sale_id, per_sale, "cap_sale"))
        out.append(CapScope("mkt_day", day, per_day if per_day is not None else policy.daily_cap, "cap_daily"))
        return out
    if msg_class == "reminder":
        return [CapScope("remind_sale", sale_id, per_sale if per_sale is not None else REMINDERS_PER_SALE,
                         "cap_reminder_sale"),
                CapScope("remind_day", day, per_day if per_day is not None else REMINDERS_PER_DAY,
                         "cap_reminder_daily")]
    return []                                   # notices: transactional, uncapped
