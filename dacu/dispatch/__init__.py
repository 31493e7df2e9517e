"""Outreach dispatch: the exactly-once ledger, send-time rules, channel clients and the reference gateway.

Entry point: :func:`dispatch_strategy` (docs/dispatch.md).
"""
from dacu.dispatch.dispatcher import DispatchError, dispatch_strategy
from dacu.dispatch.ledger import message_key
from dacu.dispatch.reminders import remind_unpaid
from dacu.dispatch.render import TemplateError

__all__ = ["DispatchError", "TemplateError", "dispatch_strategy", "message_key", "remind_unpaid"]
