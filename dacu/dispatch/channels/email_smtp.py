"""Email over SMTP, grouped by mailbox provider (seed 004: send per provider, QQ, 163, ...).

Messages of one provider go out on one SMTP session, one after another, so a
provider's throttling or rejection affects only its group and each group can
be paced on its own. Each message carries its ledger key as Message-ID
(``<key@dacu>``) and ``X-Dacu-Key`` so a mailbox log can be matched to the
ledger. SMTP has no idempotency: a message whose DATA was not acknowledged is
``unknown`` and left for a person to decide (docs/dispatch.md).
"""
from __future__ import annotations

import logging
import smtplib
import socket
from collections import defaultdict
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formataddr

from dacu.dispatch.channels.base import Outcome
from dacu.pii import scrub

log = logging.getLogger(__name__)

# Domains that share one provider's inbound infrastructure.
_PROVIDERS = {
    "qq.com": "qq", "foxmail.com": "qq", "vip.qq.com": "qq",
    "163.com": "netease", "126.com": "netease", "yeah.net": "netease", "vip.163.com": "netease",
    "sina.com": "sina", "sina.cn": "sina", "sohu.com": "sohu", "aliyun.com": "aliyun",
    "139.com": "china_mobile", "189.cn": "china_telecom", "wo.cn": "china_unicom",
    "gmail.com": "gmail", "outlook.com": "microsoft", "hotmail.com": "microsoft",
}


def mailbox_provider(address: str) -> str:
    domain = address.rpartition("@")[2].strip().lower()
    return _PROVIDERS.get(domain, domain or "unknown")


class SmtpChannel:
    """``smtp`` settings: host, port, sender (or the playbook's), username/password, starttls, timeout."""

    def __init__(self, host: str, port: int = 25, *, sender: str, username: str | None = None,
                 password: str | None = None, starttls: bool = False, timeout: float = 10.0) -> None:
        if not sender or "@" not in sender:
            raise ValueError("smtp sender must be an email address (channels.email.sender or smtp['sender'])")
        self.host, self.port, self.sender = host, int(port), sender
        self.username, self.password, self.starttls, self.timeout = username, password, starttls, timeout
        self.sessions: list[tuple[str, int]] = []   # (provider, messages) per SMTP session, for the log/tests

    @classmethod
    def from_settings(cls, smtp: dict, default_sender: str | None) -> SmtpChannel:
        known = {"host", "port", "sender", "username", "password", "starttls", "timeout"}
        unknown = set(smtp) - known
        if unknown:
            raise ValueError(f"smtp settings: unknown keys {sorted(unknown)} (known: {sorted(known)})")
        if "host" not in smtp:
            raise ValueError("smtp settings: 'host' is required")
        return cls(smtp["host"], smtp.get("port", 25), sender=smtp.get("sender") or default_sender or "",
                   username=smtp.get("username"), password=smtp.get("password"),
                   starttls=bool(smtp.get("starttls", False)), timeout=float(smtp.get("timeout", 10.0)))

    def _connect(self) -> smtplib.SMTP:
        s = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.starttls:
            s.starttls()
        if self.username:
            s.login(self.username, self.password or "")
        return s

    def _message(self, key: str, to: str, subject: str, body: str) -> EmailMessage:
        m = EmailMessage()
        m["From"] = formataddr(("", self.sender))
        m["To"] = to
        m["Subject"] = subject
        m["Message-ID"] = f"<{key}@dacu>"
        m["X-Dacu-Key"] = key
        m["List-Unsubscribe"] = f"<mailto:{self.sender}?subject=unsubscribe>"   # seed 004: visible unsubscribe
        m.set_content(body)
        return m

    def send(self, items: Sequence[tuple[str, str, str, str]]) -> list[Outcome]:
        """Send ``(key, address, subject, body)`` items grouped by provider; one Outcome per key."""
        groups: dict[str, list[tuple[str, str, str, str]]] = defaultdict(list)
        for it in items:
            groups[mailbox_provider(it[1])].append(it)
        out: list[Outcome] = []
        for provider in sorted(groups):
            out.extend(self._send_group(provider, groups[provider]))
        return out

    def _send_group(self, provider: str, items: list[tuple[str, str, str, str]]) -> list[Outcome]:
        out: list[Outcome] = []
        try:
            conn = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            # not connected: nothing of this group was handed over; they stay reserved for a rerun
            log.warning("smtp %s: cannot connect (%s); %d messages left for a rerun", provider,
                        exc.__class__.__name__, len(items))
            return [Outcome(k, "unsent", "smtp_connect") for k, *_ in items]
        sent_in_session = 0
        try:
            for i, (key, to, subject, body) in enumerate(items):
                try:
                    refused = conn.send_message(self._message(key, to, subject, body), self.sender, [to])
                    if refused:
                        out.append(Outcome(key, "failed", "smtp_refused"))
                    else:
                        out.append(Outcome(key, "sent", None, f"smtp:{provider}"[:64]))
                        sent_in_session += 1
                except smtplib.SMTPRecipientsRefused:
                    out.append(Outcome(key, "failed", "smtp_recipient_refused"))
                except smtplib.SMTPResponseException as exc:
                    out.append(Outcome(key, "failed", f"smtp_{exc.smtp_code}"))
                except (smtplib.SMTPServerDisconnected, socket.timeout, OSError) as exc:
                    # the DATA answer may be lost: this one is unknown, the rest were never handed over
                    log.warning("smtp %s: connection lost (%s)", provider, scrub(str(exc))[:200])
                    out.append(Outcome(key, "unknown", "smtp_disconnected"))
                    out.extend(Outcome(k, "unsent", "smtp_disconnected") for k, *_ in items[i + 1:])
                    break
        finally:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self.sessions.append((provider, len(items)))
        return out
