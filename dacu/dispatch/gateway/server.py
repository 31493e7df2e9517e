"""The reference gateway over HTTP/1.1 (keep-alive), on the standard library's ThreadingHTTPServer.

Endpoints (JSON in and out):
- ``POST /v1/send_batch``  {channel, kind, send_time?, messages: [{out_id, to, text}]} -> {results, balance}
- ``POST /v1/status``      {out_ids: [...]} -> {results: {out_id: {status, receipt?, msg_id?}}}
- ``GET  /v1/receipts?cursor=N&limit=M`` -> {receipts: [{out_id, receipt}], next_cursor}
- ``GET  /v1/balance``     -> {balance}
- ``GET  /healthz``
- ``POST /admin/faults``   Faults fields -> the new settings
- ``GET  /admin/stats``    counters and the provider's own record (no numbers)
- ``GET  /admin/accepted`` {out_ids: [...]} every accepted client message id
- ``POST /admin/topup``    {amount}
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import asdict, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from dacu.dispatch.gateway.state import Faults, GatewayConfig, GatewayState

log = logging.getLogger(__name__)
MAX_BODY = 4 * 1024 * 1024


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, addr, state: GatewayState):
        self.state = state
        super().__init__(addr, _Handler)

    def handle_error(self, request, client_address) -> None:
        # a client killed mid-call (kill -9, timeouts) is normal for a provider: no traceback
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: headers and body go out in two writes; with Nagle on, the body waits for
    # the client's delayed ACK (~40 ms a call on keep-alive connections).
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, fmt, *args):  # no access log: bodies carry numbers, paths do not, but keep quiet
        pass

    # --- plumbing ---
    def _json(self, code: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):   # the client gave up (timeout fault)
            self.close_connection = True

    def _body(self) -> dict | None:
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            self._json(413, {"error": "body too large"})
            return None
        raw = self.rfile.read(n) if n else b"{}"
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._json(400, {"error": "body is not JSON"})
            return None
        if not isinstance(body, dict):
            self._json(400, {"error": "body must be a JSON object"})
            return None
        return body

    # --- routes ---
    def do_GET(self):
        st = self.server.state
        with st.lock:
            st.stats.requests += 1
        url = urlsplit(self.path)
        if url.path == "/healthz":
            return self._json(200, {"ok": True})
        if url.path == "/v1/balance":
            with st.lock:
                return self._json(200, {"balance": round(st.balance, 4)})
        if url.path == "/v1/receipts":
            q = parse_qs(url.query)
            try:
                cursor = int(q.get("cursor", ["0"])[0])
                limit = min(int(q.get("limit", ["1000"])[0]), 10_000)
            except ValueError:
                return self._json(400, {"error": "cursor and limit must be integers"})
            receipts, nxt = st.receipts_from(cursor, limit)
            return self._json(200, {"receipts": receipts, "next_cursor": nxt})
        if url.path == "/admin/stats":
            return self._json(200, st.summary())
        if url.path == "/admin/accepted":
            return self._json(200, {"out_ids": st.accepted_ids()})
        return self._json(404, {"error": "no such endpoint"})

    def do_POST(self):
        st = self.server.state
        with st.lock:
            st.stats.requests += 1
        path = urlsplit(self.path).path
        body = self._body()
        if body is None:
            return
        if path == "/v1/send_batch":
            return self._send_batch(st, body)
        if path == "/v1/status":
            ids = body.get("out_ids")
            if not isinstance(ids, list) or len(ids) > 10_000:
                return self._json(400, {"error": "out_ids must be a list of at most 10000 ids"})
            return self._json(200, {"results": st.status([str(i) for i in ids])})
        if path == "/admin/faults":
            known = {f.name for f in fields(Faults)}
            unknown = set(body) - known
            if unknown:
                return self._json(400, {"error": f"unknown fault fields: {sorted(unknown)}"})
            try:
                faults = Faults(**body)
                st.set_faults(faults)
            except (TypeError, ValueError) as exc:
                return self._json(400, {"error": str(exc)})
            return self._json(200, asdict(faults))
        if path == "/admin/topup":
            try:
                amount = float(body.get("amount", 0))
            except (TypeError, ValueError):
                return self._json(400, {"error": "amount must be a number"})
            with st.lock:
                st.balance += amount
                return self._json(200, {"balance": round(st.balance, 4)})
        return self._json(404, {"error": "no such endpoint"})

    def _send_batch(self, st: GatewayState, body: dict) -> None:
        fault = st.draw_fault()
        if fault == "503":
            return self._json(503, {"error": "injected: service unavailable"})
        if fault == "429":
            return self._json(429, {"error": "injected: throttled"},
                              {"Retry-After": str(st.faults.retry_after)})
        try:
            results = st.send_batch(str(body.get("channel", "sms")), str(body.get("kind", "marketing")),
                                    body.get("messages"), body.get("send_time"))
        except ValueError as exc:
            return self._json(400, {"error": str(exc)})
        if fault == "timeout":
            # accepted, but the answer never arrives in time: the client's worst case
            time.sleep(st.faults.timeout_s)
            self.close_connection = True
        elif fault == "slow":
            time.sleep(st.faults.slow_ms / 1000)
        with st.lock:
            balance = round(st.balance, 4)
        self._json(200, {"results": results, "balance": balance})


class Gateway:
    """A running gateway: ``url``, ``state``; ``stop()`` shuts it down."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, config: GatewayConfig | None = None,
                 faults: Faults | None = None) -> None:
        self.state = GatewayState(config, faults)
        self._server = _Server((host, port), self.state)
        self.host, self.port = self._server.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> Gateway:
        self._thread = threading.Thread(target=self._server.serve_forever, name="dacu-gateway", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
