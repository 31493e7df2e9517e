"""What the readiness gates need from the SMS channel, and its HTTP client.

The interface (``ChannelProbe``) is small on purpose: a balance, a test send to
one number, and that message's delivery receipt. ``HttpChannelProbe`` speaks the
reference gateway's API (``dacu.dispatch.gateway.server``):
``GET /v1/balance`` -> {balance}; ``POST /v1/send_batch`` {channel, kind, send_time,
messages: [{out_id, to, text}]} -> {results: [{out_id, status, msg_id?, code?}]};
``POST /v1/status`` {out_ids} -> {results: {out_id: {status, receipt?}}}.
A test message carries a deterministic ``out_id`` (sale, carrier, check moment), so
a rerun of the same check is acknowledged by the gateway instead of sent twice.
Numbers never appear in errors (dacu.pii).
"""
from __future__ import annotations

from datetime import datetime
from typing import Protocol

from dacu.pii import scrub


class ProbeError(RuntimeError):
    """The gateway could not answer or refused; the message carries no phone number."""


class ChannelProbe(Protocol):
    def balance(self) -> float: ...

    def send_test(self, number: str, text: str, *, out_id: str, send_time: datetime) -> str:
        """Send one test SMS; return the id to ask receipts for. Raise ProbeError if refused."""
        ...

    def receipt(self, message_id: str) -> str | None:
        """'delivered', 'failed', or None while the carrier has not reported."""
        ...


class HttpChannelProbe:
    def __init__(self, base_url: str, *, timeout: float = 5.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"gateway URL must be http(s), got {base_url!r}")
        import requests

        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def close(self) -> None:
        self._session.close()

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        import requests

        try:
            resp = self._session.request(method, self.base_url + path, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ProbeError(f"gateway {path}: {exc.__class__.__name__}") from None
        if resp.status_code != 200:
            raise ProbeError(f"gateway {path}: HTTP {resp.status_code}: {scrub(resp.text)[:200]}")
        try:
            data = resp.json()
        except ValueError:
            raise ProbeError(f"gateway {path}: the answer is not JSON") from None
        if not isinstance(data, dict):
            raise ProbeError(f"gateway {path}: the answer is not a JSON object")
        return data

    def balance(self) -> float:
        data = self._call("GET", "/v1/balance")
        try:
            return float(data["balance"])
        except (KeyError, TypeError, ValueError):
            raise ProbeError("gateway /v1/balance: no numeric 'balance' in the answer") from None

    def send_test(self, number: str, text: str, *, out_id: str, send_time: datetime) -> str:
        # a test goes the marketing route: that is the route the sale's sends take and the one carriers filter
        data = self._call("POST", "/v1/send_batch", {
            "channel": "sms", "kind": "marketing", "send_time": send_time.isoformat(),
            "messages": [{"out_id": out_id, "to": number, "text": text}]})
        results = data.get("results") or []
        r = next((x for x in results if isinstance(x, dict) and x.get("out_id") == out_id), None)
        if r is None:
            raise ProbeError("gateway /v1/send_batch: the test message is missing from the answer")
        if r.get("status") not in ("accepted", "duplicate"):
            raise ProbeError(f"gateway refused the test message: {r.get('code') or r.get('status')}")
        return out_id

    def receipt(self, message_id: str) -> str | None:
        data = self._call("POST", "/v1/status", {"out_ids": [message_id]})
        rec = (data.get("results") or {}).get(message_id) or {}
        value = rec.get("receipt")
        return value if value in ("delivered", "failed") else None
