"""SMS and in-app messages through the HTTP channel gateway.

One urllib3 pool manager (pooled keep-alive connections) with a urllib3
``Retry``: 429 / 5xx and read timeouts are retried with backoff (honouring
``Retry-After``). urllib3 straight, not through ``requests``: requests' session
layer (hooks, cookies, settings merged per call) cost about as much CPU per call
as the HTTP exchange itself (profiled, bench/bench_dispatch.py). Retrying a POST is safe only because every message carries
its ledger key as the client message id (like Aliyun's OutId), which the
gateway acknowledges instead of sending twice. A call that still has no answer
is reported as ``unknown`` for each of its messages; the dispatcher reconciles
those from ``/v1/status`` or resends them under the same id.
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from datetime import datetime

import requests.utils
import urllib3
from urllib3.util import Timeout
from urllib3.util.retry import Retry

from dacu.dispatch.channels.base import ChannelError, Outcome
from dacu.dispatch.channels.ratelimit import TokenBucket
from dacu.pii import scrub

log = logging.getLogger(__name__)


class GatewayClient:
    def __init__(self, base_url: str, *, timeout: tuple[float, float] = (2.0, 5.0), pool_size: int = 8,
                 retries: int = 3, backoff: float = 0.05, rate_limit: TokenBucket | None = None,
                 max_batch: int = 100) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"gateway_url must be an http(s) URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.rate_limit = rate_limit
        self.max_batch = max_batch
        self._retry = Retry(total=retries, connect=retries, read=retries, status=retries, backoff_factor=backoff,
                            status_forcelist=(429, 500, 502, 503, 504), allowed_methods=frozenset({"GET", "POST"}),
                            respect_retry_after_header=True, raise_on_status=False)
        self._timeout = Timeout(connect=timeout[0], read=timeout[1])
        # The environment (proxies, NO_PROXY, CA bundle, ~/.netrc) is read once here, for the
        # gateway's URL, as requests would read it, instead of on every call.
        scheme = self.base_url.split(":", 1)[0]
        proxy = requests.utils.get_environ_proxies(self.base_url).get(scheme)
        ca = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        pool = {"num_pools": 2, "maxsize": pool_size, **({"ca_certs": ca} if ca else {})}
        self._http = urllib3.ProxyManager(proxy, **pool) if proxy else urllib3.PoolManager(**pool)
        self._headers = {"Content-Type": "application/json; charset=utf-8"}
        auth = requests.utils.get_netrc_auth(self.base_url)
        if auth:
            self._headers.update(urllib3.make_headers(basic_auth=f"{auth[0]}:{auth[1]}"))
        self.calls = 0          # provider calls made (tests use it to simulate a crash after N calls)

    def close(self) -> None:
        self._http.clear()

    def _request(self, method: str, path: str, data: bytes | None = None):
        try:
            return self._http.request(method, self.base_url + path, body=data, headers=self._headers,
                                      timeout=self._timeout, retries=self._retry)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ChannelError(f"gateway {path}: {exc.__class__.__name__}: {scrub(str(exc))[:300]}") from None

    def _post(self, path: str, body: dict) -> dict:
        # UTF-8 JSON: Chinese texts as 3 bytes a character instead of 6-byte \u escapes
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        resp = self._request("POST", path, data)
        if resp.status != 200:
            text = resp.data.decode("utf-8", errors="replace")
            raise ChannelError(f"gateway {path}: HTTP {resp.status}: {scrub(text)[:300]}")
        try:
            return json.loads(resp.data)
        except ValueError:
            raise ChannelError(f"gateway {path}: the answer is not JSON") from None

    def send_batch(self, channel: str, kind: str, items: Sequence[tuple[str, str, str]],
                   send_time: datetime) -> list[Outcome]:
        """Send ``(key, recipient, text)`` items (at most ``max_batch``); one Outcome per key."""
        if len(items) > self.max_batch:
            raise ValueError(f"at most {self.max_batch} messages per gateway call, got {len(items)}")
        if self.rate_limit:
            self.rate_limit.acquire(len(items))
        self.calls += 1
        body = {"channel": channel, "kind": kind, "send_time": send_time.isoformat(),
                "messages": [{"out_id": k, "to": to, "text": text} for k, to, text in items]}
        try:
            data = self._post("/v1/send_batch", body)
        except ChannelError as exc:
            # No answer after the retries: each message may or may not be with the provider.
            log.warning("%s batch of %d: unknown outcome (%s)", channel, len(items), exc)
            return [Outcome(k, "unknown", "no_answer") for k, _, _ in items]
        by_key = {r.get("out_id"): r for r in data.get("results", [])}
        out = []
        for k, _, _ in items:
            r = by_key.get(k)
            if r is None:
                out.append(Outcome(k, "unknown", "missing_in_answer"))
            elif r.get("status") in ("accepted", "duplicate"):
                out.append(Outcome(k, "sent", None, r.get("msg_id"), r.get("segments")))
            else:
                out.append(Outcome(k, "failed", str(r.get("code") or "rejected")[:48]))
        return out

    def status(self, keys: Sequence[str]) -> dict[str, dict]:
        """The gateway's record of each key: {"status": accepted|unknown, "receipt", "msg_id"}."""
        out: dict[str, dict] = {}
        for i in range(0, len(keys), 5000):
            out.update(self._post("/v1/status", {"out_ids": list(keys[i:i + 5000])}).get("results", {}))
        return out

    def balance(self) -> float:
        resp = self._request("GET", "/v1/balance")
        try:
            if resp.status != 200:
                raise ValueError(f"HTTP {resp.status}")
            return float(json.loads(resp.data)["balance"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ChannelError(f"gateway /v1/balance: {exc.__class__.__name__}") from None
