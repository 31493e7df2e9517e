"""Local stand-ins for the channel providers, for the demo, ``make airflow`` and tests.

- the reference SMS / in-app gateway (dacu.dispatch.gateway): a real HTTP service on loopback;
- an SMTP sink (aiosmtpd) that accepts mail and keeps only counts per mailbox provider
  (no addresses, no bodies), so email strategies run end to end without a mail provider.

``python -m dacu.devservices --gateway-port 8765 --smtp-port 8025`` runs both until Ctrl-C.
"""
from __future__ import annotations

import argparse
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class SmtpSink:
    """An SMTP server on loopback that counts accepted messages per recipient domain."""

    host: str = "127.0.0.1"
    port: int = 0
    by_domain: Counter = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> "SmtpSink":
        from aiosmtpd.controller import Controller

        sink = self

        class _Handler:
            async def handle_DATA(self, server, session, envelope):
                with sink._lock:
                    for rcpt in envelope.rcpt_tos:
                        sink.by_domain[rcpt.rsplit("@", 1)[-1].lower()] += 1
                return "250 OK"

        if not self.port:
            import socket

            with socket.socket() as s:
                s.bind((self.host, 0))
                self.port = s.getsockname()[1]
        self._controller = Controller(_Handler(), hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.by_domain.values())


def airflow_env(gateway_url: str, smtp: SmtpSink | None, sender: str = "crm@example.com") -> dict[str, str]:
    """The connections DispatchOperator reads, as Airflow environment variables."""
    env = {"AIRFLOW_CONN_DACU_SMS_GATEWAY": gateway_url}
    if smtp is not None:
        env["AIRFLOW_CONN_DACU_SMTP"] = json.dumps({"conn_type": "smtp", "host": smtp.host, "port": smtp.port,
                                                   "extra": {"sender": sender}})
    return env


def main(argv: list[str] | None = None) -> int:
    from dacu.dispatch.gateway.server import Gateway

    ap = argparse.ArgumentParser(prog="python -m dacu.devservices", description=__doc__.splitlines()[0])
    ap.add_argument("--gateway-port", type=int, default=8765)
    ap.add_argument("--smtp-port", type=int, default=8025)
    args = ap.parse_args(argv)
    gateway = Gateway(port=args.gateway_port).start()
    smtp = SmtpSink(port=args.smtp_port).start()
    print(f"reference SMS gateway: {gateway.url}   SMTP sink: {smtp.host}:{smtp.port}", flush=True)
    for k, v in airflow_env(gateway.url, smtp).items():
        print(f"export {k}='{v}'", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        smtp.stop()
        gateway.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
