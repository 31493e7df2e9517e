"""The reference gateway's book-keeping: accepted messages, balance, caps, receipts, faults.

It plays an SMS provider (Aliyun SendBatchSms style) and the in-app /
customer-service message API. Everything lives in memory for one process run;
the lock makes each batch atomic, as a provider's API call is.
"""
from __future__ import annotations

import hashlib
import math
import random
import re
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

SALE_TZ = ZoneInfo("Asia/Shanghai")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
KINDS = ("marketing", "transactional")
CHANNELS = ("sms", "inapp")


def sms_segments(text: str) -> int:
    """China SMS billing: up to 70 characters is one segment, longer texts 67 per segment."""
    n = len(text)
    return 1 if n <= 70 else math.ceil(n / 67)


@dataclass
class Faults:
    """Per-run fault injection; rates are probabilities per send call (they add up, at most 1)."""
    error_rate: float = 0.0        # 503 before anything is accepted
    rate_429: float = 0.0          # 429 with Retry-After, nothing accepted
    retry_after: int = 1           # seconds in the Retry-After header
    timeout_rate: float = 0.0      # the batch IS accepted, then the answer hangs for timeout_s
    timeout_s: float = 3.0
    slow_rate: float = 0.0         # accepted, answered after slow_ms
    slow_ms: int = 200
    seed: int = 0

    def validate(self) -> None:
        for name in ("error_rate", "rate_429", "timeout_rate", "slow_rate"):
            v = getattr(self, name)
            if not 0 <= v <= 1:
                raise ValueError(f"faults.{name} must be within 0..1, got {v}")
        if self.error_rate + self.rate_429 + self.timeout_rate + self.slow_rate > 1:
            raise ValueError("faults: the rates add up to more than 1")
        if self.retry_after < 0 or self.timeout_s < 0 or self.slow_ms < 0:
            raise ValueError("faults: retry_after, timeout_s and slow_ms must be >= 0")


@dataclass
class GatewayConfig:
    max_batch: int = 100                 # numbers per call (Aliyun SendBatchSms: 100)
    balance: float = 1_000_000.0         # yuan
    unit_price: float = 0.045            # yuan per billed segment
    per_number_daily_cap: int = 10       # provider-side limit per number per day
    delivery_marketing: float = 0.93     # seed 004: marketing 90–95%
    delivery_transactional: float = 0.98  # seed 004: order/logistics 98%
    seed: int = 7                        # receipts are deterministic per (seed, message id)
    idempotency: bool = True             # False: a repeated id is sent again (for tests that prove the ledger alone)


@dataclass
class Accepted:
    msg_id: str
    channel: str
    kind: str
    recipient: str
    day: str
    segments: int
    receipt: str                          # delivered | failed


@dataclass
class Stats:
    requests: int = 0
    send_calls: int = 0
    items: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)


class GatewayState:
    def __init__(self, config: GatewayConfig | None = None, faults: Faults | None = None) -> None:
        self.lock = threading.Lock()
        self.config = config or GatewayConfig()
        self.faults = faults or Faults()
        self.faults.validate()
        self._rng = random.Random(self.faults.seed)
        self.balance = self.config.balance
        self.accepted: dict[str, Accepted] = {}
        self.deliveries: Counter = Counter()      # recipient -> messages handed to the carrier
        self.per_number_day: Counter = Counter()  # (recipient, day) -> count
        self.receipts: list[tuple[str, str]] = []  # (out_id, receipt) in acceptance order
        self.stats = Stats()
        self._seq = 0

    # --- faults ---
    def set_faults(self, faults: Faults) -> None:
        faults.validate()
        with self.lock:
            self.faults = faults
            self._rng = random.Random(faults.seed)

    def draw_fault(self) -> str | None:
        """One of 503 / 429 / timeout / slow / None for this send call."""
        with self.lock:
            f, r = self.faults, self._rng.random()
        for name, rate in (("503", f.error_rate), ("429", f.rate_429), ("timeout", f.timeout_rate),
                           ("slow", f.slow_rate)):
            if r < rate:
                with self.lock:
                    self.stats.faults[name] += 1
                return name
            r -= rate
        return None

    # --- sending ---
    def _receipt(self, out_id: str, kind: str) -> str:
        h = hashlib.sha256(f"{self.config.seed}:{out_id}".encode()).digest()
        u = int.from_bytes(h[:8], "big") / 2**64
        rate = self.config.delivery_marketing if kind == "marketing" else self.config.delivery_transactional
        return "delivered" if u < rate else "failed"

    def send_batch(self, channel: str, kind: str, messages: list[dict], send_time: str | None) -> list[dict]:
        if channel not in CHANNELS:
            raise ValueError(f"channel must be one of {CHANNELS}")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        if not isinstance(messages, list) or not messages:
            raise ValueError("messages must be a non-empty list")
        if len(messages) > self.config.max_batch:
            raise ValueError(f"at most {self.config.max_batch} messages per call, got {len(messages)}")
        day = _day(send_time)
        out: list[dict] = []
        with self.lock:
            self.stats.send_calls += 1
            for m in messages:
                self.stats.items += 1
                out_id, to, text = m.get("out_id"), m.get("to"), m.get("text")
                if not isinstance(out_id, str) or not out_id or len(out_id) > 64:
                    out.append({"out_id": out_id, "status": "rejected", "code": "bad_out_id"})
                    self.stats.rejected["bad_out_id"] += 1
                    continue
                prior = self.accepted.get(out_id)
                if prior is not None and self.config.idempotency:
                    # like an OutId seen before: acknowledged, not sent or billed again
                    self.stats.duplicates += 1
                    out.append({"out_id": out_id, "status": "duplicate", "msg_id": prior.msg_id,
                                "segments": prior.segments})
                    continue
                code = self._check(channel, to, text, day)
                segments = sms_segments(text) if channel == "sms" and isinstance(text, str) else 1
                fee = segments * self.config.unit_price if channel == "sms" else 0.0
                if code is None and fee > self.balance:
                    code = "insufficient_balance"
                if code:
                    self.stats.rejected[code] += 1
                    out.append({"out_id": out_id, "status": "rejected", "code": code})
                    continue
                self._seq += 1
                msg_id = f"gw{self._seq:012d}"
                receipt = self._receipt(out_id, kind)
                self.balance -= fee
                self.per_number_day[(to, day)] += 1
                self.deliveries[to] += 1
                self.accepted[out_id] = Accepted(msg_id, channel, kind, to, day, segments, receipt)
                self.receipts.append((out_id, receipt))
                self.stats.accepted += 1
                out.append({"out_id": out_id, "status": "accepted", "msg_id": msg_id, "segments": segments})
        return out

    def _check(self, channel: str, to, text, day: str) -> str | None:
        if not isinstance(text, str) or not text:
            return "empty_text"
        if not isinstance(to, str) or not to:
            return "no_recipient"
        if channel == "sms" and not _MOBILE.match(to):
            return "invalid_number"
        if self.per_number_day[(to, day)] >= self.config.per_number_daily_cap:
            return "number_daily_cap"
        return None

    # --- queries ---
    def status(self, out_ids: list[str]) -> dict[str, dict]:
        with self.lock:
            res = {}
            for oid in out_ids:
                a = self.accepted.get(oid)
                res[oid] = ({"status": "unknown"} if a is None else
                            {"status": "accepted", "msg_id": a.msg_id, "receipt": a.receipt,
                             "segments": a.segments})
            return res

    def receipts_from(self, cursor: int, limit: int) -> tuple[list[dict], int]:
        with self.lock:
            chunk = self.receipts[cursor:cursor + limit]
        return [{"out_id": o, "receipt": r} for o, r in chunk], cursor + len(chunk)

    def summary(self) -> dict:
        with self.lock:
            s = self.stats
            return {"requests": s.requests, "send_calls": s.send_calls, "items": s.items, "accepted": s.accepted,
                    "duplicates": s.duplicates, "rejected": dict(s.rejected), "faults": dict(s.faults),
                    "balance": round(self.balance, 4), "config": asdict(self.config),
                    "fault_config": asdict(self.faults),
                    # the provider's own record, for exactly-once checks (no numbers in it)
                    "max_per_recipient": max(self.deliveries.values(), default=0),
                    "recipients": len(self.deliveries)}

    def accepted_ids(self) -> list[str]:
        with self.lock:
            return list(self.accepted)


def _day(send_time: str | None) -> str:
    """The provider's day for per-number caps: the caller's send time if given (sale-local)."""
    if send_time:
        try:
            t = datetime.fromisoformat(send_time)
        except ValueError:
            raise ValueError("send_time must be an ISO datetime") from None
        if t.tzinfo is not None:
            t = t.astimezone(SALE_TZ)
        return t.date().isoformat()
    return datetime.now(SALE_TZ).date().isoformat()   # a real provider uses its own clock
