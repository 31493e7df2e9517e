"""A token bucket: the channel account's rate limit, shared by the threads of one process.

Across Airflow shards (mapped tasks) each process holds ``rate / shards``:
see docs/dispatch.md ("Scaling out").
"""
from __future__ import annotations

import threading
import time


class TokenBucket:
    def __init__(self, rate_per_s: float, burst: float | None = None) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be > 0")
        self.rate = float(rate_per_s)
        self.capacity = float(burst if burst is not None else max(rate_per_s / 10, 1.0))
        self._tokens = self.capacity
        self._last = time.monotonic()   # pacing is about elapsed time, not business time
        self._lock = threading.Lock()

    def acquire(self, n: int = 1) -> None:
        """Block until ``n`` tokens are available (n may exceed the burst: it then waits longer)."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= n
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            time.sleep(wait)
