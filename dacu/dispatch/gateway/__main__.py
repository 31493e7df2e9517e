"""``python -m dacu.dispatch.gateway --port P``: run the reference SMS / in-app gateway."""
from __future__ import annotations

import argparse
import sys
from dataclasses import fields

from dacu.dispatch.gateway.server import Gateway
from dacu.dispatch.gateway.state import Faults, GatewayConfig


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="bind address (loopback by default)")
    p.add_argument("--port", type=int, default=8765)
    for f in fields(GatewayConfig):
        p.add_argument(f"--{f.name.replace('_', '-')}", dest=f"cfg_{f.name}",
                       type=(lambda s: s.lower() in ("1", "true", "yes")) if f.type in (bool, "bool") else
                       (int if f.type in (int, "int") else float), default=f.default)
    for f in fields(Faults):
        p.add_argument(f"--fault-{f.name.replace('_', '-')}", dest=f"fault_{f.name}",
                       type=int if f.type in (int, "int") else float, default=f.default)


def run(args: argparse.Namespace) -> int:
    config = GatewayConfig(**{f.name: getattr(args, f"cfg_{f.name}") for f in fields(GatewayConfig)})
    faults = Faults(**{f.name: getattr(args, f"fault_{f.name}") for f in fields(Faults)})
    try:
        gw = Gateway(args.host, args.port, config, faults)
    except (OSError, ValueError) as exc:
        print(f"gateway: cannot start: {exc}", file=sys.stderr)
        return 2
    print(f"dacu gateway listening on {gw.url}", flush=True)
    try:
        gw.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dacu.dispatch.gateway", description=__doc__)
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
