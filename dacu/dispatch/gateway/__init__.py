"""The reference SMS / in-app gateway: the stand-in for a provider in dev, demo, tests and benchmarks.

``Gateway(port=0).start()`` runs it in a thread (tests); ``python -m dacu.dispatch.gateway --port P``
or ``dacu gateway serve`` runs it as a process. See ``server.py`` for the endpoints.
"""
from dacu.dispatch.gateway.server import Gateway
from dacu.dispatch.gateway.state import Faults, GatewayConfig, GatewayState, sms_segments

__all__ = ["Faults", "Gateway", "GatewayConfig", "GatewayState", "sms_segments"]
