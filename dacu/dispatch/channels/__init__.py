"""Channel clients: the HTTP gateway (SMS, in-app) and SMTP (email)."""
from dacu.dispatch.channels.base import ChannelError, Outcome
from dacu.dispatch.channels.email_smtp import SmtpChannel, mailbox_provider
from dacu.dispatch.channels.ratelimit import TokenBucket
from dacu.dispatch.channels.sms_http import GatewayClient

__all__ = ["ChannelError", "GatewayClient", "Outcome", "SmtpChannel", "TokenBucket", "mailbox_provider"]
