"""What a channel call returns per message."""
from __future__ import annotations

from typing import NamedTuple


class ChannelError(Exception):
    """A channel could not be reached or answered nonsense (message carries no personal data)."""


class Outcome(NamedTuple):
    """The provider's answer for one message key (a named tuple: one per message, made cheaply).

    ``state``: sent (accepted, or a duplicate of an accepted id) | failed (rejected) | unknown
    (no answer: it may or may not have been accepted) | unsent (never handed over: the ledger
    row stays reserved and the next run sends it).
    """
    key: str
    state: str
    reason: str | None = None
    provider_id: str | None = None
    segments: int | None = None
