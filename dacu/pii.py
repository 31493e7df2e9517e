"""Masking of personal data: phone numbers and emails never reach logs, XCom or errors."""
from __future__ import annotations

import re

_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@[A-Za-z0-9.-]+)")


def mask_mobile(mobile: str | None) -> str:
    """``13812345678`` -> ``138****5678``; anything else keeps only its last 2 characters."""
    if not mobile:
        return ""
    digits = re.sub(r"\D", "", mobile)
    if len(digits) == 11:
        return f"{digits[:3]}****{digits[-4:]}"
    return "*" * max(len(mobile) - 2, 0) + mobile[-2:]


def mask_email(email: str | None) -> str:
    """``alice@qq.com`` -> ``a***@qq.com``."""
    if not email:
        return ""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def scrub(text: str) -> str:
    """Mask every mobile number and email inside free text (error details, rejects)."""
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    return _EMAIL.sub(lambda m: f"{m.group(1)}***{m.group(2)}", text)
