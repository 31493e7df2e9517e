"""The dispatch ledger (outbox): deterministic message keys, reserve-before-send, mark-after.

State machine of one key (docs/dispatch.md):

    (new) ─┬─> holdout                     virtual send, never sent
           ├─> skipped(reason)             a send-time rule said no
           ├─> held ──(window opens)──> reserved | skipped(quiet_hours_expired, cap_*, ...)
           └─> reserved ──(provider)──> sent | failed(code) | unknown ──(status/resend)──> sent | failed

A key is inserted with ``ON CONFLICT DO NOTHING`` *before* the provider call, so
any later attempt (rerun, cleared task, duplicate worker, backfill) finds it.
``reserved`` and ``unknown`` keys are sent again under the same key, which the
gateway acknowledges without sending twice.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Date, DateTime, TextClause, bindparam
from sqlalchemy.engine import Connection

from dacu.warehouse.sqlfiles import sql as _sql

FINAL_STATES = frozenset({"sent", "failed", "skipped", "holdout"})
RESEND_STATES = frozenset({"reserved", "unknown"})
IN_CHUNK = 900          # keys per IN (...) list: SQLite's default variable limit is 32766, stay small


def message_key(sale_id: str, strategy_id: str, wave: str, customer_id: str, channel: str) -> str:
    """sha256 hex of the message's identity; also the gateway's client message id."""
    raw = "\x1f".join((sale_id, strategy_id, wave, customer_id, channel))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def occasion(wave_id: str | None, gate_local: datetime, *, daily: bool) -> str:
    """The ``wave`` part of a key: the playbook wave and the gate moment it was planned for.

    ``daily`` (event-driven reminders checked every few minutes): the sale-local day,
    so a strategy reminds a customer at most once a day whatever the micro-batch.
    The gate moment comes from the crowd snapshot, never from the send time, so a
    message held by quiet hours keeps its key when it is sent the next morning.
    """
    stamp = gate_local.strftime("%Y-%m-%d") if daily else gate_local.strftime("%Y-%m-%dT%H:%M")
    return f"{(wave_id or '-')[:40]}@{stamp}"


@dataclass(frozen=True)
class LedgerRow:
    message_key: str
    customer_id: str
    channel: str
    state: str
    reason: str | None
    hold_until: datetime | None
    expires_at: datetime | None
    attempts: int


# Datetime binds and result columns are typed: on SQLite an untyped bind is stored without
# SQLAlchemy's microseconds (breaking comparisons) and an untyped column comes back as text.
_DT_BINDS = ("planned_at", "hold_until", "expires_at", "updated_at", "receipt_at")
_DATE_BINDS = ("sent_day",)


def sql(name: str, *expanding: str, dt_cols: Sequence[str] = ()) -> TextClause:
    """``include/sql/<name>.sql`` with expanding lists, typed datetime binds and typed result columns."""
    stmt = _sql(name)
    body = stmt.text
    binds = [bindparam(k, expanding=True) for k in expanding]
    binds += [bindparam(k, type_=DateTime) for k in _DT_BINDS if f":{k}" in body]
    binds += [bindparam(k, type_=Date) for k in _DATE_BINDS if f":{k}" in body]
    if binds:
        stmt = stmt.bindparams(*binds)
    if dt_cols:
        stmt = stmt.columns(**{c: DateTime for c in dt_cols})
    return stmt


def _in(name: str, key: str, dt_cols: Sequence[str] = ()):
    return sql(name, key, dt_cols=dt_cols)


def _chunks(seq: Sequence, n: int = IN_CHUNK) -> Iterable[Sequence]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def fetch(conn: Connection, keys: Sequence[str]) -> dict[str, LedgerRow]:
    out: dict[str, LedgerRow] = {}
    stmt = _in("dispatch/ledger_select", "keys", ("hold_until", "expires_at"))
    for chunk in _chunks(list(keys)):
        for r in conn.execute(stmt, {"keys": list(chunk)}):
            out[r.message_key] = LedgerRow(r.message_key, r.customer_id, r.channel, r.state, r.reason,
                                           r.hold_until, r.expires_at, r.attempts)
    return out


def insert(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(sql("dispatch/ledger_insert"), rows)


def resolve_held(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(sql("dispatch/ledger_resolve_held"), rows)


def mark(conn: Connection, rows: list[dict]) -> None:
    """rows: message_key, state, reason, provider_id, segments, cost, sent_day, updated_at."""
    if rows:
        conn.execute(sql("dispatch/ledger_mark"), rows)


def pending(conn: Connection, sale_id: str, strategy_id: str, wave: str) -> list[LedgerRow]:
    res = conn.execute(sql("dispatch/ledger_pending"),
                       {"sale_id": sale_id, "strategy_id": strategy_id, "wave": wave})
    return [LedgerRow(r.message_key, r.customer_id, r.channel, r.state, None, None, None, 0) for r in res]


def awaiting_receipt(conn: Connection, sale_id: str, strategy_id: str, wave: str) -> list[str]:
    res = conn.execute(sql("dispatch/ledger_awaiting_receipt"),
                       {"sale_id": sale_id, "strategy_id": strategy_id, "wave": wave})
    return [r.message_key for r in res]


def set_receipts(conn: Connection, receipts: dict[str, str], at: datetime) -> None:
    rows = [{"message_key": k, "receipt": v, "receipt_at": at} for k, v in receipts.items()]
    if rows:
        conn.execute(sql("dispatch/ledger_set_receipt"), rows)


def counts(conn: Connection, sale_id: str, strategy_id: str, wave: str) -> list:
    return list(conn.execute(sql("dispatch/ledger_counts", dt_cols=("first_hold_until",)),
                             {"sale_id": sale_id, "strategy_id": strategy_id, "wave": wave}))


def by_sale(conn: Connection, sale_id: str) -> list:
    return list(conn.execute(sql("dispatch/ledger_by_sale"), {"sale_id": sale_id}))


# ---- cap slots ---------------------------------------------------------------------------------

def claim_slots(conn: Connection, scope: str, period: str, cap: int,
                items: Sequence[tuple[str, str, str]]) -> set[str]:
    """Give each ``(key, customer_id, channel)`` a free slot in 1..cap; returns the keys that hold one.

    A key that already holds a slot (rerun) keeps it. Slots are taken with
    INSERT .. ON CONFLICT DO NOTHING, so concurrent strategies never overbook.
    """
    if not items or cap <= 0:
        return set()
    owned_stmt = _in("dispatch/cap_owned", "keys")

    def owned(keys: list[str]) -> set[str]:
        got: set[str] = set()
        for chunk in _chunks(keys):
            got.update(r.message_key for r in conn.execute(
                owned_stmt, {"scope": scope, "period": period, "keys": list(chunk)}))
        return got

    holders = owned([k for k, _, _ in items])
    waiting = [it for it in items if it[0] not in holders]
    for slot in range(1, cap + 1):
        if not waiting:
            break
        conn.execute(sql("dispatch/cap_claim"), [
            {"scope": scope, "period": period, "customer_id": c, "channel": ch, "slot": slot, "message_key": k}
            for k, c, ch in waiting])
        got = owned([k for k, _, _ in waiting])
        holders |= got
        waiting = [it for it in waiting if it[0] not in got]
    return holders


def release_slots(conn: Connection, keys: Iterable[str]) -> None:
    rows = [{"message_key": k} for k in keys]
    if rows:
        conn.execute(sql("dispatch/cap_release"), rows)


def slots_used(conn: Connection, scope: str, period: str, customer_ids: Sequence[str]) -> dict[tuple[str, str], int]:
    stmt = _in("dispatch/cap_used", "ids")
    out: dict[tuple[str, str], int] = {}
    for chunk in _chunks(list(customer_ids)):
        for r in conn.execute(stmt, {"scope": scope, "period": period, "ids": list(chunk)}):
            out[(r.customer_id, r.channel)] = int(r.n)
    return out


def day_str(d: date) -> str:
    return d.isoformat()
