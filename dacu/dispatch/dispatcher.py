"""The dispatch entry point: one strategy's segment run → ledger → channels → receipts.

``dispatch_strategy`` is what the Airflow dispatch task (and ``dacu dispatch``)
calls. It works in ledger batches: per batch it reads the ledger, re-checks
the rules, takes cap slots and reserves keys in one transaction, then calls the
channels (gateway calls of up to 100 messages on a few threads over pooled
keep-alive connections) and marks the answers in a second transaction. It
returns counts and keys only (XCom-safe); phone numbers and emails never reach
its logs or errors.
"""
from __future__ import annotations

import gc
import logging
import threading
import time as _time
import zlib
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from dacu.dispatch import ledger, render, rules, smart
from dacu.dispatch.channels.base import Outcome
from dacu.dispatch.channels.email_smtp import SmtpChannel
from dacu.dispatch.channels.ratelimit import TokenBucket
from dacu.dispatch.channels.sms_http import GatewayClient
from dacu.dispatch.ledger import sql

log = logging.getLogger(__name__)

GATEWAY_CHANNELS = ("sms", "inapp")
RECEIPT_PAGE = 5000      # keys per receipt lookup (gateway /v1/status) and per ledger update
CROWD_PAGE = 50_000      # crowd members read, rechecked and batched at a time (memory flat in the crowd size)
TEXT_CACHE = 4096        # rendered texts kept per call, by (nick, channel)
# The cyclic garbage collector's thresholds during a call (restored after it): with the default
# 700, a call allocating tuples per message ran a young collection every few messages and an
# old one often enough to spend a third of the dispatcher's CPU in the collector (measured:
# 36 -> 23 us per message, bench_dispatch.py). Nearly everything a call allocates is freed by
# reference counting; what the collector must find waits at most 50,000 allocations.
GC_THRESHOLDS = (50_000, 20, 100)


class DispatchError(ValueError):
    """The strategy cannot be dispatched as asked (names the strategy and the field)."""


def _utc(t: datetime) -> datetime:
    return t.astimezone(timezone.utc).replace(tzinfo=None)


@dataclass
class _Plan:
    """Everything fixed for one dispatch call."""
    sale_id: str
    strategy: object
    run_key: str
    wave: str
    msg_class: str
    channels: list[str]
    tz: ZoneInfo
    send_time: datetime            # aware
    send_utc: datetime             # naive UTC
    local_day: date
    policies: dict[str, rules.ChannelPolicy]
    holds: dict[str, tuple[datetime, datetime] | None]   # channel -> (hold_until, expires) naive UTC
    caps: dict[str, list[rules.CapScope]]
    template: render.Template
    subject: str
    gate_local: datetime           # the segment run's moment, sale-local
    smart: bool                    # when.smart: per-customer hour buckets (dacu.dispatch.smart)


@dataclass
class _Tally:
    calls: int = 0
    handed_over: int = 0
    outcomes: Counter = field(default_factory=Counter)
    dry: Counter = field(default_factory=Counter)
    dry_skipped: Counter = field(default_factory=Counter)
    dry_cost: float = 0.0
    dry_recorded: int = 0


def dispatch_strategy(engine: Engine, playbook, strategy_id: str, run_key: str, send_time: datetime, *,
                      gateway_url: str | None, smtp: dict | None = None, dry_run: bool = False,
                      record_dry_run: bool = True,
                      db_batch: int = 5000, gateway_batch: int = 100, threads: int = 4, parallel_batches: int = 3,
                      rate_per_s: float | None = None, hold_expiry: timedelta = rules.DEFAULT_HOLD_EXPIRY,
                      reconcile_rounds: int = 3, collect_receipts: bool = True,
                      shard: tuple[int, int] | None = None,
                      link_base: str = "https://s.example.com",
                      gateway_client: GatewayClient | None = None,
                      smtp_channel: SmtpChannel | None = None) -> dict:
    """Send one strategy's segment run (``run_key``) at ``send_time`` (aware; never the wall clock).

    ``dry_run`` (manual runs, backfills): nothing is sent and no real key is written; the
    counts say what would happen and, with ``record_dry_run``, each message's would-be
    outcome is recorded as a ``dry_run`` ledger row under a key of its own (``ledger.dry_key``).
    Returns counts only: sent, failed, unknown, pending, held,
    skipped by reason, holdout, delivered, cost estimate, this call's msg/s.
    ``gateway_client`` / ``smtp_channel`` replace the clients built from
    ``gateway_url`` / ``smtp`` (tests, benchmarks). ``shard=(i, n)``: only the customers
    whose stable hash falls in shard i of n (Airflow dynamic task mapping; give each shard
    ``rate_per_s / n`` so the account's rate holds across shards).
    """
    if shard is not None and not (shard[1] >= 1 and 0 <= shard[0] < shard[1]):
        raise DispatchError(f"shard must be (index, count) with 0 <= index < count, got {shard}")
    plan = _plan(engine, playbook, strategy_id, run_key, send_time, hold_expiry, link_base)
    gw = smtp_ch = None
    if not dry_run:
        if any(c in GATEWAY_CHANNELS for c in plan.channels):
            if gateway_client is None and not gateway_url:
                raise DispatchError(f"strategy {strategy_id}: channels {plan.channels} need gateway_url")
            gw = gateway_client or GatewayClient(
                gateway_url, pool_size=max(threads, 2), max_batch=gateway_batch,
                rate_limit=TokenBucket(rate_per_s) if rate_per_s else None)
        if "email" in plan.channels:
            if smtp_channel is None and not smtp:
                raise DispatchError(f"strategy {strategy_id}: channel email needs smtp settings")
            smtp_ch = smtp_channel or SmtpChannel.from_settings(smtp, plan.policies["email"].sender)
    run = _Run(engine, plan, gw, smtp_ch, dry_run=dry_run, record_dry=record_dry_run, db_batch=db_batch,
               gateway_batch=gateway_batch,
               threads=threads, parallel_batches=parallel_batches, shard=shard)
    before = gc.get_threshold()
    gc.set_threshold(*(max(a, b) for a, b in zip(GC_THRESHOLDS, before)))
    try:
        return run.execute(reconcile_rounds=reconcile_rounds, collect_receipts=collect_receipts)
    finally:
        gc.set_threshold(*before)
        if gw is not None and gateway_client is None:
            gw.close()


def _plan(engine: Engine, playbook, strategy_id: str, run_key: str, send_time: datetime,
          hold_expiry: timedelta, link_base: str) -> _Plan:
    if send_time.tzinfo is None:
        raise DispatchError("send_time must be timezone-aware (the run's logical moment)")
    try:
        strategy = playbook.strategy(strategy_id)
    except KeyError as exc:
        raise DispatchError(str(exc).strip("'\"")) from None
    msg_class = rules.MSG_CLASS.get(strategy.kind)
    if msg_class is None:
        raise DispatchError(f"strategy {strategy_id}: kind {strategy.kind} sends nothing (scene tasks are done "
                            "by a person in another back office)")
    if not strategy.channels:
        raise DispatchError(f"strategy {strategy_id}: channels is empty")
    if "sms" in strategy.channels and playbook.channels.sms is None:
        raise DispatchError(f"strategy {strategy_id} sends SMS but the playbook has no channels.sms "
                            "(signature, unsubscribe_suffix, unit_price)")
    template = render.compile_template(playbook, strategy, link_base=link_base)   # fails before any send
    sale_id = playbook.sale.id
    tz = playbook.tz
    with engine.connect() as conn:
        seg = conn.execute(sql("dispatch/segment_run", dt_cols=("as_of",)),
                           {"sale_id": sale_id, "strategy_id": strategy_id, "run_key": run_key}).first()
    if seg is None:
        raise DispatchError(f"no segment run {sale_id}/{strategy_id}/{run_key}: segment before dispatching")
    gate_local = seg.as_of.replace(tzinfo=timezone.utc).astimezone(tz)
    wave = ledger.occasion(seg.wave or strategy.wave, gate_local, daily=strategy.when.form == 3)
    local = send_time.astimezone(tz)
    policies = {c: rules.channel_policy(playbook, c) for c in strategy.channels}
    holds: dict[str, tuple[datetime, datetime] | None] = {}
    for c, pol in policies.items():
        h = rules.quiet_hold(local, pol.quiet, hold_expiry) if msg_class == "marketing" else None
        holds[c] = (_utc(h[0]), _utc(h[1])) if h else None
    caps = {c: rules.cap_scopes(sale_id, strategy, pol, msg_class, local.date()) for c, pol in policies.items()}
    subject = (strategy.material.subject if strategy.material and strategy.material.subject else strategy.name)
    return _Plan(sale_id, strategy, run_key, wave, msg_class, list(strategy.channels), tz, send_time,
                 _utc(send_time), local.date(), policies, holds, caps, template, subject, gate_local,
                 bool(strategy.when.smart and strategy.when.form == 2))


def _read_ahead(pages):
    """Iterate ``pages`` one item ahead on a thread of its own: the next crowd page is read and
    rechecked while the batches of the current one run (two pages in memory at most)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dacu-pages") as ex:
        nxt = ex.submit(next, pages, None)
        while True:
            item = nxt.result()
            if item is None:
                return
            nxt = ex.submit(next, pages, None)
            yield item


class _InFlight:
    """Submitted futures in order, at most ``keep`` left waiting after each ``add``: the oldest
    is waited for first (its error surfaces here), then ``on_done(n)`` with the size it was added
    with. Keeps the batches (or receipt pages) in flight, and so memory, bounded."""

    def __init__(self, keep: int, on_done: Callable[[int], None] | None = None) -> None:
        self.keep, self.on_done = keep, on_done
        self._queue: deque[tuple[int, Future]] = deque()

    def add(self, future: Future, n: int = 0) -> None:
        self._queue.append((n, future))
        self.wait(self.keep)

    def wait(self, keep: int = 0) -> None:
        """Wait for the oldest until at most ``keep`` remain (0: all of them)."""
        while len(self._queue) > keep:
            n, future = self._queue.popleft()
            future.result()
            if self.on_done is not None:
                self.on_done(n)


class _Run:
    def __init__(self, engine: Engine, plan: _Plan, gw: GatewayClient | None, smtp: SmtpChannel | None, *,
                 dry_run: bool, db_batch: int, gateway_batch: int, threads: int, parallel_batches: int,
                 record_dry: bool = True,
                 shard: tuple[int, int] | None = None) -> None:
        if db_batch < 1 or gateway_batch < 1 or threads < 1 or parallel_batches < 1:
            raise DispatchError("db_batch, gateway_batch, threads and parallel_batches must be >= 1")
        self.parallel_batches = parallel_batches
        self.shard = shard
        self._lock = threading.Lock()
        self.engine, self.p, self.gw, self.smtp = engine, plan, gw, smtp
        self._local = threading.local()
        self._conns: list = []
        self._texts: dict[tuple[str | None, str], str] = {}
        self._slot_memo: dict = {}        # cap scopes found partly taken (ledger.claim_slots)
        # the ledger columns every row of this call shares, bound once per statement
        self._const = {"sale_id": plan.sale_id, "strategy_id": plan.strategy.id, "wave": plan.wave,
                       "run_key": plan.run_key, "msg_class": plan.msg_class, "planned_at": plan.send_utc,
                       "updated_at": plan.send_utc}
        self.dry_run, self.db_batch, self.gateway_batch, self.threads = dry_run, db_batch, gateway_batch, threads
        self.record_dry = record_dry
        self.t = _Tally()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dacu-dispatch") if gw else None
        self.smart_days = smart.DEFAULT_DAYS
        self.smart_info: dict | None = None
        self.phases: dict[str, float] = {}   # wall seconds per phase of the call (the log, benchmarks)

    # ---- the whole call ----------------------------------------------------------------------
    def execute(self, *, reconcile_rounds: int, collect_receipts: bool) -> dict:
        p = self.p
        started = _time.monotonic()     # for msg/s and ETA only; no decision uses it
        phases = self.phases
        try:
            with self.engine.connect() as conn:
                # the occasion's key form: ordered keys, or the legacy ones it began with
                self._key = ledger.key_maker(conn, p.sale_id, p.strategy.id, p.wave)
            total = self._crowd_size()
            recipients, crowd_skipped = 0, Counter()
            per_batch = max(1, self.db_batch // len(p.channels))
            done = 0

            def batch_done(n: int) -> None:
                nonlocal done
                done += n
                self._progress(done, total, started)

            # Page by page through the frozen crowd (CROWD_PAGE ids in the database's order): the
            # recheck, smart buckets and batches of one page, so memory stays flat in the crowd size.
            # Batches hold disjoint customers, so a few run at once: one batch's database work
            # overlaps another's gateway calls. The window is small to keep memory flat.
            with ThreadPoolExecutor(max_workers=self.parallel_batches, thread_name_prefix="dacu-batch") as bx:
                window = _InFlight(self.parallel_batches - 1, batch_done)
                for members, holdouts, dropped, skipped in _read_ahead(self._recipient_pages()):
                    recipients += len(members) + len(holdouts) + len(dropped)
                    crowd_skipped.update(skipped)
                    everyone = sorted(members | holdouts | set(dropped))
                    for i in range(0, len(everyone), per_batch):
                        chunk = everyone[i:i + per_batch]
                        window.add(bx.submit(self._batch, chunk, holdouts, dropped), len(chunk))
                window.wait()
                # wall time of the page-and-batch loop; "recipients" (reading and rechecking the
                # pages) ran inside it, one page ahead of the batches
                phases["batches"] = _time.monotonic() - started
                if not self.dry_run:
                    t = _time.monotonic()
                    self._reconcile(reconcile_rounds)
                    phases["reconcile"] = _time.monotonic() - t
                    if collect_receipts and self.gw is not None:
                        t = _time.monotonic()
                        self._receipts(bx)
                        phases["receipts"] = _time.monotonic() - t
            seconds = _time.monotonic() - started
            return self._summary(recipients, {k: v for k, v in crowd_skipped.items() if v}, seconds)
        finally:
            if self._pool:
                self._pool.shutdown(wait=True)
            for conn in self._conns:
                conn.close()

    # ---- connections -------------------------------------------------------------------------
    def _tx(self, *, durable: bool = True):
        """A transaction on this thread's own connection, checked out once for the whole call:
        a checkout per step cost the pool's ping (a round trip) and book-keeping, several times
        per batch."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self.engine.connect()
            self._conns.append(conn)              # list.append is atomic; closed at the end of the call
        return ledger.transaction(conn, durable=durable)

    def _crowd_size(self) -> int:
        p = self.p
        with self.engine.connect() as conn:
            return int(conn.execute(sql("dispatch/snapshot_count"), {"sale_id": p.sale_id, "strategy_id": p.strategy.id,
                                                             "run_key": p.run_key}).scalar() or 0)

    def _recipient_pages(self):
        """Per page of the frozen crowd: (treated ids to send, holdout ids, {dropped id: reason},
        crowd recheck counts)."""
        from dacu.crowds.freshness import recheck_at_send   # the crowd library's send-time recheck

        p = self.p
        binds = {"sale_id": p.sale_id, "strategy_id": p.strategy.id, "run_key": p.run_key, "page": CROWD_PAGE}
        after = ""
        self.phases.setdefault("recipients", 0.0)
        while True:
            t = _time.monotonic()
            with self.engine.connect() as conn:
                rows = ledger.raw_rows(conn, "snapshot_rows", {**binds, "after": after})
            if not rows:
                return
            first, after = rows[0].customer_id, rows[-1].customer_id
            if self.shard is not None:
                i, n = self.shard
                rows = [r for r in rows if zlib.crc32(r.customer_id.encode()) % n == i]
            treated = {r.customer_id for r in rows if not r.is_holdout}
            holdouts = {r.customer_id for r in rows if r.is_holdout}
            del rows
            to_send, skipped = recheck_at_send(self.engine, p.sale_id, p.strategy.id, p.run_key, p.send_time,
                                               skip_paid_since=p.msg_class != "notice", id_range=(first, after))
            keep = set(to_send) & treated
            # The recheck gives counts per reason; the ledger needs a reason per key: the contact
            # rules below name it, anything else the recheck dropped is "paid since the segment".
            dropped = {cid: "paid_since_segment" for cid in treated - keep}
            if p.smart and not self.dry_run:
                due = self._smart_due(treated | holdouts)
                keep, holdouts = keep & due, holdouts & due
                dropped = {cid: r for cid, r in dropped.items() if cid in due}
            self.phases["recipients"] += _time.monotonic() - t
            yield keep, holdouts, dropped, skipped

    def _smart_due(self, everyone: set[str]) -> set[str]:
        """Smart timing: the customers whose hour bucket has opened by the send time. The
        others are not touched now (no ledger row): a later call, at their bucket, sends them."""
        p = self.p
        quiets = [pol.quiet for pol in p.policies.values()] if p.msg_class == "marketing" else []
        start = p.strategy.when.time
        hours = smart.allowed_hours(start, quiets)
        ids = sorted(everyone)
        best = smart.best_hours(self.engine, ids, _utc(p.gate_local), p.tz, self.smart_days)
        buckets = smart.assign(ids, best, hours)
        day = p.gate_local.date()
        opens = {h: smart.bucket_moment(day, h, start, p.tz) for h in set(buckets.values())}
        due = {cid for cid, h in buckets.items() if opens[h] <= p.send_time}
        later = sorted(m for m in opens.values() if m > p.send_time)
        per_hour = sorted(Counter(buckets.values()).items())
        info = self.smart_info or {"hours": [hours[0], hours[-1]], "buckets": {}, "due": 0, "later": 0,
                                   "next_bucket_at": None, "with_visits": 0}
        for h, n in per_hour:                   # summed over the crowd's pages
            info["buckets"][f"{h:02d}"] = info["buckets"].get(f"{h:02d}", 0) + n
        info["buckets"] = dict(sorted(info["buckets"].items()))
        info["due"] += len(due)
        info["later"] += len(ids) - len(due)
        info["with_visits"] += len(best)
        if later and (info["next_bucket_at"] is None or later[0].isoformat() < info["next_bucket_at"]):
            info["next_bucket_at"] = later[0].isoformat()
        self.smart_info = info
        return due

    # ---- one ledger batch --------------------------------------------------------------------
    def _batch(self, customer_ids: list[str], holdouts: set[str], dropped: dict[str, str]) -> None:
        p = self.p
        key_of = self._key
        items = [(key_of(cid, ch), cid, ch) for cid in customer_ids for ch in p.channels]
        with self._tx() as conn:
            existing = ledger.fetch(conn, [k for k, _, _ in items])
            contacts = self._contacts(conn, customer_ids)
        new_rows: list[tuple] = []       # ledger.INSERT_ROW tuples (ON CONFLICT DO NOTHING)
        held_updates: list[tuple] = []   # (key, state, reason): held -> reserved / skipped
        to_rule: list[tuple[str, str, str, bool]] = []   # (key, cid, channel, is_new)
        resend: list[tuple[str, str, str]] = []
        for key, cid, ch in items:
            ex = existing.get(key)
            if ex is None:
                if cid in holdouts:
                    new_rows.append((key, cid, ch, "holdout", None, None, None))
                else:
                    to_rule.append((key, cid, ch, True))
            elif ex.state == "held":
                if p.send_utc < ex.hold_until:
                    continue                                   # still quiet hours
                if p.send_utc > ex.expires_at:
                    held_updates.append((key, "skipped", "quiet_hours_expired"))
                elif p.holds[ch] is not None:
                    continue                                   # quiet again (a long hold_expiry): never inside
                else:
                    to_rule.append((key, cid, ch, False))
            elif ex.state in ledger.RESEND_STATES:
                resend.append((key, cid, ch))                  # a crash or a timeout left it: same key again
        # rules: recheck reasons, contact, quiet hours
        cap_candidates: dict[str, list[tuple[str, str, str, bool]]] = defaultdict(list)
        decided: list[tuple[str, str, str, bool, str, str | None, tuple | None]] = []
        for key, cid, ch, is_new in to_rule:
            reason = rules.contact_block(contacts.get(cid), ch, p.msg_class, p.send_utc)
            if reason is None and cid in dropped:
                # the crowd recheck dropped this customer: name its reason as precisely as we can
                reason = rules.contact_block(contacts.get(cid), ch, "marketing", p.send_utc) or dropped[cid]
            if reason:
                decided.append((key, cid, ch, is_new, "skipped", reason, None))
            elif is_new and p.holds[ch] is not None:
                decided.append((key, cid, ch, is_new, "held", None, p.holds[ch]))
            else:
                cap_candidates[ch].append((key, cid, ch, is_new))
        if self.dry_run:
            with self._lock:
                self._dry_tally(existing, items, holdouts, decided, cap_candidates, contacts, resend)
            return
        reserved: list[tuple[str, str, str]] = []
        # One transaction: the cap slots and the ledger rows (reserved / held / skipped) commit
        # together, before any provider call; one statement per step (ledger.py).
        with self._tx() as conn:
            for ch, cands in cap_candidates.items():
                ok = {k for k, _, _, _ in cands}
                failed_reason: dict[str, str] = {}
                scopes = p.caps[ch]
                for i, scope in enumerate(scopes):
                    live = [(k, c, cc) for k, c, cc, _ in cands if k in ok]
                    got = ledger.claim_slots(conn, scope.scope, scope.period, scope.cap, live, self._slot_memo)
                    refused = [it for it in live if it[0] not in got]
                    for k, _, _ in refused:
                        ok.discard(k)
                        failed_reason[k] = scope.reason
                    if refused and i:
                        # refused here: give back the slots it took in the earlier scopes (only
                        # those: a slot here under the same key is a concurrent attempt's)
                        ledger.release_slots(conn, [(s.scope, s.period) for s in scopes[:i]], refused)
                for key, cid, cc, is_new in cands:
                    if key in ok:
                        decided.append((key, cid, cc, is_new, "reserved", None, None))
                        reserved.append((key, cid, cc))
                    else:
                        decided.append((key, cid, cc, is_new, "skipped", failed_reason[key], None))
            for key, cid, ch, is_new, state, reason, hold in decided:
                if is_new:
                    new_rows.append((key, cid, ch, state, reason, hold[0] if hold else None,
                                     hold[1] if hold else None))
                else:
                    held_updates.append((key, state, reason))
            inserted = ledger.insert_batch(conn, self._const, new_rows)
            ledger.resolve_held(conn, p.send_utc, held_updates)
        if reserved:
            # another attempt may have taken a key first: send only what the ledger says is ours to
            # send. The insert on PostgreSQL names the keys it inserted; where it cannot (SQLite)
            # or for held keys, the ledger is read again.
            new_keys = {r[0] for r in new_rows} if inserted is not None else set()
            unsure = []
            for it in reserved:
                if it[0] in new_keys:
                    if it[0] in inserted:
                        resend.append(it)
                else:
                    unsure.append(it)
            if unsure:
                with self._tx() as conn:
                    now = ledger.fetch(conn, [k for k, _, _ in unsure])
                resend.extend(it for it in unsure if now.get(it[0]) and now[it[0]].state in ledger.RESEND_STATES)
        if resend:
            self._send(resend, contacts)

    def _contacts(self, conn, customer_ids: list[str]) -> dict[str, tuple]:
        """Customer id -> contact row (a ``rules.CONTACT_COLUMNS`` tuple, as the driver made it)."""
        return {r[0]: r for r in ledger.select_in(conn, "customers_contact", "ids", customer_ids,
                                                  dt_cols=("opted_out_at",), plain=True)}

    # ---- sending -----------------------------------------------------------------------------
    def _text(self, customer: tuple, channel: str) -> str:
        # the text depends on the nick alone: rendered once per distinct nick (most are empty -> 亲)
        nick = customer[rules.C_NICK]
        text = self._texts.get((nick, channel))
        if text is None:
            text = self.p.template.render(nick)
            if channel == "sms":
                pol = self.p.policies["sms"]
                text = render.sms_text(text, signature=pol.signature, unsubscribe=pol.unsubscribe,
                                       msg_class=self.p.msg_class)
            if len(self._texts) >= TEXT_CACHE:
                self._texts.clear()               # bounded: memory stays flat with a million nicks
            self._texts[(nick, channel)] = text
        return text

    def _send(self, items: list[tuple[str, str, str]], contacts: dict[str, tuple]) -> None:
        p = self.p
        by_channel: dict[str, list] = defaultdict(list)
        outcomes: list[Outcome] = []
        meta = {key: (cid, ch) for key, cid, ch in items}
        for key, cid, ch in items:
            c = contacts.get(cid)
            to = rules.recipient(c, ch) if c is not None else None
            if not to:
                outcomes.append(Outcome(key, "failed", "no_contact"))   # contact data vanished since reserve
                continue
            by_channel[ch].append((key, to, self._text(c, ch)))
        for ch, msgs in by_channel.items():
            if ch in GATEWAY_CHANNELS:
                kind = rules.GATEWAY_KIND[p.msg_class]
                calls = [msgs[i:i + self.gateway_batch] for i in range(0, len(msgs), self.gateway_batch)]
                futures = [self._pool.submit(self.gw.send_batch, ch, kind, c, p.send_time) for c in calls]
                for f in futures:
                    outcomes.extend(f.result())    # a crash here leaves the rest reserved: resent next run
                n_calls = len(calls)
            else:
                outcomes.extend(self.smtp.send([(k, to, p.subject, text) for k, to, text in msgs]))
                n_calls = 1
            with self._lock:
                self.t.calls += n_calls
                self.t.handed_over += len(msgs)
        self._mark(outcomes, meta)

    def _mark(self, outcomes: list[Outcome], meta: dict[str, tuple[str, str]]) -> None:
        """Record the provider's answers (``meta``: key -> (customer id, channel))."""
        p = self.p
        price = p.policies["sms"].unit_price if "sms" in p.policies else 0.0
        rows = []                                   # ledger.MARK_ROW tuples
        failed = []
        with self._lock:
            self.t.outcomes.update(o.state for o in outcomes)
        day = p.local_day
        for o in outcomes:
            state = o.state
            if state == "unsent":
                continue                                       # stays reserved: the next run sends it
            is_sms = meta[o.key][1] == "sms"
            sent = state == "sent"
            cost = round(o.segments * price, 4) if sent and is_sms and o.segments is not None else None
            rows.append((o.key, state, o.reason, o.provider_id, o.segments if is_sms else None, cost,
                         day if sent else None))
            if state == "failed":
                failed.append((o.key, *meta[o.key]))
        # not durable (ledger.transaction): a mark lost with a database crash leaves its key to the
        # next run, which sends it again under the same key or finds it at the gateway
        with self._tx(durable=False) as conn:
            ledger.mark_batch(conn, p.send_utc, rows)
            for ch in {ch for _, _, ch in failed}:       # a rejected message did not reach anyone
                ledger.release_slots(conn, [(s.scope, s.period) for s in p.caps[ch]],
                                     [f for f in failed if f[2] == ch])

    # ---- after the batches -------------------------------------------------------------------
    def _reconcile(self, rounds: int) -> None:
        """Unknown keys: the gateway's record decides; keys it never saw are resent under the same id."""
        if self.gw is None:
            return
        p = self.p
        for _ in range(rounds):
            with self._tx() as conn:
                pend = [r for r in ledger.pending(conn, p.sale_id, p.strategy.id, p.wave)
                        if r.channel in GATEWAY_CHANNELS and r.state == "unknown"]
            if not pend:
                return
            status = self.gw.status([r.message_key for r in pend])
            known = [Outcome(r.message_key, "sent", None, status[r.message_key].get("msg_id"),
                             status[r.message_key].get("segments"))
                     for r in pend if status.get(r.message_key, {}).get("status") == "accepted"]
            self._mark(known, {r.message_key: (r.customer_id, r.channel) for r in pend})
            again = [(r.message_key, r.customer_id, r.channel) for r in pend
                     if status.get(r.message_key, {}).get("status") != "accepted"]
            log.info("%s/%s reconcile: %d unknown, %d found accepted, %d resent", p.strategy.id, p.wave,
                     len(pend), len(known), len(again))
            if again:
                with self._tx() as conn:
                    contacts = self._contacts(conn, sorted({cid for _, cid, _ in again}))
                self._send(again, contacts)

    def _receipts(self, workers: ThreadPoolExecutor) -> None:
        """Receipts of the occasion's sent keys, a page at a time (memory flat in the crowd size):
        the keys come from one streamed query; each page is looked up at the gateway and written
        by one of the batch workers (its own connection), ``parallel_batches`` pages at once, so
        one page's ledger update overlaps the next pages' lookups and updates."""
        p = self.p
        window = _InFlight(self.parallel_batches)
        for keys in ledger.awaiting_receipt(self.engine, p.sale_id, p.strategy.id, p.wave, page=RECEIPT_PAGE):
            window.add(workers.submit(self._receipt_page, keys))
        window.wait()

    def _receipt_page(self, keys: list[str]) -> None:
        self._set_receipts(self.gw.status(keys))

    def _set_receipts(self, status: dict[str, dict]) -> None:
        got = {k: v["receipt"] for k, v in status.items() if v.get("status") == "accepted" and v.get("receipt")}
        with self._tx(durable=False) as conn:       # a lost receipt is looked up again
            ledger.set_receipts(conn, got, self.p.send_utc)

    # ---- dry run -----------------------------------------------------------------------------
    def _dry_tally(self, existing, items, holdouts, decided, cap_candidates, contacts, resend) -> None:
        """Count what a real call would do and, unless told not to, record it per key as ``dry_run``
        rows under keys of their own (``ledger.dry_key``): a later real send finds its key free."""
        p, t = self.p, self.t
        outcome: dict[str, str] = {}
        for key, cid, ch in items:
            ex = existing.get(key)
            if ex is not None and ex.state in ledger.FINAL_STATES:
                outcome[key] = "already_" + ex.state
            elif ex is None and cid in holdouts:
                outcome[key] = "holdout"
            elif ex is not None and ex.state == "held":
                outcome[key] = "held"                  # still quiet, unless decided below
        for key, _, _ in resend:
            outcome[key] = "would_resend"
        for key, _, _, _, state, reason, _ in decided:
            outcome[key] = reason if state == "skipped" else state
            if state == "skipped":
                t.dry_skipped[reason] += 1
            else:
                t.dry[state] += 1
        t.dry["would_resend"] += len(resend)
        for key, state in outcome.items():
            if state.startswith("already_") or state == "holdout":
                t.dry[state] += 1
        with self._tx() as conn:
            for ch, cands in cap_candidates.items():
                ids = [cid for _, cid, _, _ in cands]
                used = {s.scope: ledger.slots_used(conn, s.scope, s.period, ids) for s in p.caps[ch]}
                for key, cid, _, _ in cands:
                    blocked = next((s.reason for s in p.caps[ch] if used[s.scope].get((cid, ch), 0) >= s.cap), None)
                    if blocked:
                        t.dry_skipped[blocked] += 1
                        outcome[key] = blocked
                        continue
                    t.dry["would_send"] += 1
                    outcome[key] = "would_send"
                    if ch == "sms":
                        t.dry_cost += render.segments(self._text(contacts[cid], ch)) * p.policies["sms"].unit_price
        if not self.record_dry:
            return
        rows = [(ledger.dry_key(key), cid, ch, ledger.DRY_RUN, outcome.get(key, "unchanged"), None, None)
                for key, cid, ch in items]
        with self._tx() as conn:
            ledger.record_dry(conn, self._const, rows)
        t.dry_recorded += len(rows)

    # ---- reporting ---------------------------------------------------------------------------
    def _progress(self, done: int, total: int, started: float) -> None:
        elapsed = max(_time.monotonic() - started, 1e-6)
        rate = self.t.handed_over / elapsed
        eta = (total - done) * elapsed / done if done else 0
        log.info("dispatch %s/%s: %d/%d recipients, sent %d, failed %d, unknown %d, %.0f msg/s, ETA %.0fs",
                 self.p.strategy.id, self.p.wave, done, total, self.t.outcomes["sent"], self.t.outcomes["failed"],
                 self.t.outcomes["unknown"], rate, eta)

    def _summary(self, recipients: int, crowd_skipped: dict[str, int], seconds: float) -> dict:
        p = self.p
        out = {"sale_id": p.sale_id, "strategy_id": p.strategy.id, "run_key": p.run_key, "wave": p.wave,
               "send_time": p.send_time.isoformat(), "msg_class": p.msg_class, "channels": p.channels,
               "dry_run": self.dry_run, "recipients": recipients, "crowd_recheck": crowd_skipped,
               "shard": list(self.shard) if self.shard else None, "smart": self.smart_info}
        if self.dry_run:
            out.update({"would": dict(self.t.dry), "skipped": dict(self.t.dry_skipped),
                        "cost_estimate": round(self.t.dry_cost, 2), "recorded": self.t.dry_recorded,
                        "seconds": round(seconds, 3)})
            return out
        with self._tx() as conn:
            rows = ledger.counts(conn, p.sale_id, p.strategy.id, p.wave)
        states: Counter = Counter()
        skipped: Counter = Counter()
        failed: Counter = Counter()
        receipts: Counter = Counter()
        cost = 0.0
        segments = 0
        hold_until = None
        for r in rows:
            states[r.state] += r.n
            if r.state == "skipped":
                skipped[r.reason] += r.n
            if r.state == "failed":
                failed[r.reason] += r.n
            if r.receipt:
                receipts[r.receipt] += r.n
            cost += float(r.cost or 0)
            segments += int(r.segments or 0)
            if r.state == "held" and r.first_hold_until is not None:
                hold_until = r.first_hold_until if hold_until is None else min(hold_until, r.first_hold_until)
        out.update({
            "sent": states["sent"], "failed": states["failed"], "failed_by_reason": dict(failed),
            "unknown": states["unknown"], "pending": states["reserved"], "held": states["held"],
            "hold_until": (hold_until.replace(tzinfo=timezone.utc).astimezone(p.tz).isoformat()
                           if hold_until is not None else None),
            "skipped": dict(skipped), "holdout": states["holdout"],
            "delivered": receipts["delivered"], "undelivered": receipts["failed"],
            "segments": segments, "cost_estimate": round(cost, 2),
            "this_call": {"provider_calls": self.t.calls, "handed_over": self.t.handed_over,
                          "outcomes": dict(self.t.outcomes), "seconds": round(seconds, 3),
                          "msg_per_s": round(self.t.handed_over / seconds, 1) if seconds > 0 else None,
                          "phases": {k: round(v, 2) for k, v in self.phases.items()}},
        })
        return out
