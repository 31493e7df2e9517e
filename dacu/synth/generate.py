"""Run the synthetic shop generator into a warehouse (``dacu data generate``).

The generator owns the warehouse while it runs: inside one transaction it
deletes every customer, SKU, order, event, coupon and import batch, then loads
the new shop, so a rerun with the same arguments yields identical tables and a
failed run leaves the previous data untouched.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO

import numpy as np

from dacu.synth.calendar import DAY, UTC_OFFSET_S, build_calendar, local_date, playbook_shape
from dacu.synth.catalogue import build_catalogue, build_coupons
from dacu.synth.shop import BLOCK, NULL, Context, generate_block, make_mix
from dacu.synth.writer import LOADED_TABLES, writer_for

# Default last day when no playbook is given: after Double 11 2026, so three full years hold
# three 618s and three Double 11s (documented in docs/synthetic-shop.md).
DEFAULT_END = date(2026, 11, 30)
MAX_CUSTOMERS = 99_999_999      # customer ids and mobile suffixes are bijections below 10^8
PROGRESS_EVERY_S = 3.0
WRITE_SLICE = 100_000           # rows per converted batch handed to the writer (memory only, not results)


class GenerateError(ValueError):
    """Bad generator arguments (nothing was written)."""


@dataclass
class GenerateResult:
    batch_id: int
    customers: int
    seed: int
    start: date
    end: date
    playbook: str | None
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "customers": self.customers, "seed": self.seed,
                "start": self.start.isoformat(), "end": self.end.isoformat(), "playbook": self.playbook,
                "counts": self.counts, "rows": self.rows, "seconds": round(self.seconds, 2),
                "rows_per_second": round(self.rows_per_second)}


def _utc(local_s: int) -> datetime:
    return datetime(1970, 1, 1) + timedelta(seconds=local_s - UTC_OFFSET_S)


def resolve_end(end: date | None, playbook: Any | None) -> date:
    """``--end``, else the playbook's sale window end, else DEFAULT_END (never the wall clock)."""
    if end is not None:
        return end
    if playbook is not None:
        return playbook.sale.window.end
    return DEFAULT_END


def validate(customers: int, seed: int, years: int) -> None:
    if not 1 <= customers <= MAX_CUSTOMERS:
        raise GenerateError(f"--customers must be between 1 and {MAX_CUSTOMERS}, got {customers}")
    if seed < 0:
        raise GenerateError(f"--seed must be >= 0, got {seed}")
    if not 1 <= years <= 10:
        raise GenerateError(f"--years must be between 1 and 10, got {years}")


def generate(engine, *, customers: int, seed: int, end: date | None = None, years: int = 3,
             playbook: Any | None = None, playbook_name: str | None = None,
             progress: TextIO | None = None, clock: Callable[[], float] = time.monotonic,
             issue_playbook_coupons: bool = False, unissued_coupons: tuple[str, ...] = ()) -> GenerateResult:
    """Generate the shop into ``engine``'s warehouse (schema must exist); returns counts and timing.

    ``playbook`` is a loaded ``dacu.playbook.Playbook`` (or None); ``progress`` a stream for
    rows/s lines every few seconds. ``clock`` only measures duration.
    ``issue_playbook_coupons`` also writes the playbook's own coupons as issued
    PLAYBOOK_COUPON_LEAD before their deadline (or first validity), as the platform's
    coupon export would show them; ``unissued_coupons`` are written with no issue
    time, so the readiness coupon gate warns, then fails (the demo does it on purpose).
    """
    validate(customers, seed, years)
    if unissued_coupons and not issue_playbook_coupons:
        raise GenerateError("--unissued-coupon needs --issue-playbook-coupons")
    if issue_playbook_coupons:
        if playbook is None:
            raise GenerateError("--issue-playbook-coupons needs --playbook")
        unknown = sorted(set(unissued_coupons) - {c.id for c in playbook.coupons})
        if unknown:
            raise GenerateError(f"--unissued-coupon {', '.join(unknown)}: not a coupon of the playbook "
                                f"({', '.join(c.id for c in playbook.coupons)})")
    end_day = resolve_end(end, playbook)
    shape = playbook_shape(playbook) if playbook is not None else None
    cal = build_calendar(end_day, years, shape)
    g = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(0,))))
    cat = build_catalogue(g)
    coupons = build_coupons(cal, customers)
    platform = playbook.sale.platform if playbook is not None else "tmall"
    ctx = Context(seed=seed, n_customers=customers, cal=cal, cat=cat, coupons=coupons, platform=platform,
                  mix=make_mix(g))
    result = GenerateResult(batch_id=0, customers=customers, seed=seed, start=local_date(cal.start),
                            end=end_day, playbook=playbook_name)
    source = (f"synthetic shop customers={customers} seed={seed} end={end_day.isoformat()} years={years}"
              + (f" playbook={playbook_name}" if playbook_name else ""))
    t0 = clock()
    last = t0
    # lowest possible time: old customers were first seen up to 3 years before the span
    span = (cal.start - 4 * 366 * DAY, cal.end + 30 * DAY)
    with engine.connect() as conn:
        writer = writer_for(conn, span)
        try:
            # audit only: when the run happened (the data never depends on it)
            started = datetime.now(timezone.utc).replace(tzinfo=None)
            result.batch_id = writer.begin(source=source, started_at=started,
                                           period=(_utc(cal.start), _utc(cal.end)))
            writer.write("skus", {
                "sku_id": cat.sku_id, "name": cat.name, "category": cat.category, "list_price": cat.price_cents,
                "repurchase_cycle_days": np.where(cat.cycle_days > 0, cat.cycle_days, NULL)})
            writer.write("coupons", {
                "coupon_id": np.array(coupons.coupon_id), "name": np.array(coupons.name),
                "kind": np.array(coupons.kind), "face_value": np.array(coupons.face_cents),
                "threshold": np.array(coupons.threshold_cents), "valid_from": np.array(coupons.valid_from),
                "valid_to": np.array(coupons.valid_to), "issued_at": np.array(coupons.issued_at),
                "total_quantity": np.array(coupons.total_quantity)})
            if issue_playbook_coupons:
                writer.write("coupons", playbook_coupon_columns(playbook, set(unissued_coupons), customers))
            n_blocks = (customers + BLOCK - 1) // BLOCK
            b = -1
            for item in _produce(ctx, writer, n_blocks):
                if item is not None:
                    writer.insert(item)
                    continue
                b += 1                       # a block is complete
                now = clock()
                if progress is not None and (now - last >= PROGRESS_EVERY_S or b == n_blocks - 1):
                    last = now
                    rows = sum(writer.rows.values())
                    done = min((b + 1) * BLOCK, customers)
                    print(f"generate: {done:,}/{customers:,} customers, {rows:,} rows, "
                          f"{rows / max(now - t0, 1e-9):,.0f} rows/s", file=progress, flush=True)
            if progress is not None:
                print(f"generate: rows written in {clock() - t0:.1f} s; creating indexes", file=progress, flush=True)
            writer.finish(datetime.now(timezone.utc).replace(tzinfo=None))
        except BaseException:
            writer.abort()
            raise
        finally:
            writer.close()
    result.counts = {t: writer.rows[t] for t in LOADED_TABLES}
    result.seconds = clock() - t0
    return result


# Playbook coupons are created this long before their issue deadline (or first validity).
PLAYBOOK_COUPON_LEAD = timedelta(days=7)


def _local_seconds(moment: datetime) -> int:
    """An aware playbook time -> sale-local seconds since 1970 (the writer's time unit)."""
    naive = moment.astimezone(timezone(timedelta(seconds=UTC_OFFSET_S))).replace(tzinfo=None)
    return int((naive - datetime(1970, 1, 1)).total_seconds())


def playbook_coupon_columns(playbook: Any, unissued: set[str], customers: int) -> dict[str, np.ndarray]:
    """The playbook's coupons as ``coupons`` columns (issued, except ``unissued``)."""
    cs = playbook.coupons
    issued = [NULL if c.id in unissued else _local_seconds(min(c.issue_deadline, c.valid_from) - PLAYBOOK_COUPON_LEAD)
              for c in cs]
    return {"coupon_id": np.array([c.id for c in cs]), "name": np.array([c.name for c in cs]),
            "kind": np.array([c.kind for c in cs]),
            "face_value": np.array([round(c.face_value * 100) for c in cs], dtype=np.int64),
            "threshold": np.array([round(c.threshold * 100) for c in cs], dtype=np.int64),
            "valid_from": np.array([_local_seconds(c.valid_from) for c in cs], dtype=np.int64),
            "valid_to": np.array([_local_seconds(c.valid_to) for c in cs], dtype=np.int64),
            "issued_at": np.array(issued, dtype=np.int64),
            "total_quantity": np.array([max(1000, customers // 2 // 1000 * 1000)] * len(cs), dtype=np.int64)}


_BLOCK_TABLES = ("customers", "orders", "order_items", "events", "coupon_grants")


def _produce(ctx: Context, writer, n_blocks: int) -> Iterator[tuple | None]:
    """Converted tables of each block (then None), generated in a background thread while the caller writes.

    numpy and the database release the GIL for much of their work, so generation overlaps
    the inserts on the second core. Blocks come out in order (event ids are numbered here).
    At most two converted blocks wait in the queue: memory stays flat.
    """
    out: queue.Queue = queue.Queue(maxsize=3)
    stop = threading.Event()
    done = object()

    def work() -> None:
        next_event_id = 1
        try:
            for b in range(n_blocks):
                if stop.is_set():
                    return
                tables = generate_block(ctx, b)
                ev = tables["events"]
                k = len(ev["customer_id"])
                ev["event_id"] = np.arange(next_event_id, next_event_id + k, dtype=np.int64)
                next_event_id += k
                for name in _BLOCK_TABLES:   # in slices: few Python row objects alive at once
                    cols = tables.pop(name)
                    n = len(next(iter(cols.values())))
                    for lo in range(0, max(n, 1), WRITE_SLICE):
                        out.put(writer.convert(name, {c: v[lo:lo + WRITE_SLICE] for c, v in cols.items()}))
                out.put(None)                # end of block
            out.put(done)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            out.put(exc)

    thread = threading.Thread(target=work, name="dacu-synth-producer", daemon=True)
    thread.start()
    try:
        while True:
            item = out.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():   # unblock a producer waiting on a full queue
            try:
                out.get(timeout=0.1)
            except queue.Empty:
                pass
        thread.join()


def load_playbook_file(path: str | Path):
    """Load a playbook for shaping (the playbook module validates and names file/line on errors)."""
    from dacu.playbook import load_playbook

    return load_playbook(path)


__all__ = ["DEFAULT_END", "GenerateError", "GenerateResult", "generate", "load_playbook_file", "resolve_end",
           "validate"]
