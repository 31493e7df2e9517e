"""The send-time recheck: what changed between the segment moment and the send.

Frozen at segment time (``crowd_snapshots``): crowd membership, the
expression's excludes, the holdout split. Re-applied here, at send time:
paid since the segment moment, opted out / blacklisted since, channel consent
or reachability lost since, and "already messaged today" (the dispatcher owns
the message ledger and passes those ids in). docs/crowds.md has the table.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine

from dacu.crowds.bounds import to_utc
from dacu.warehouse.schema import segment_runs
from dacu.crowds.evaluate import statement

log = logging.getLogger(__name__)

SKIP_REASONS = ("blacklisted", "opted_out", "no_channel", "paid_since_segment", "messaged_today")


class SnapshotMissing(LookupError):
    """No segment run for (sale, strategy, run_key): segment before sending."""


def recheck_at_send(engine: Engine, sale_id: str, strategy_id: str, run_key: str, send_time: datetime, *,
                    already_messaged: Iterable[str] | Callable[[set[str]], Iterable[str]] | None = None,
                    skip_paid_since: bool = True,
                    id_range: tuple[str, str] | None = None) -> tuple[list[str], dict[str, int]]:
    """(ids to send now, skipped count per reason) for the treated members of a segment run.

    ``send_time`` is aware (the dispatch moment, never the wall clock).
    ``already_messaged``: ids messaged today by the dispatcher's ledger, or a
    callable that receives the candidate ids and returns those messaged.
    ``skip_paid_since=False`` keeps buyers (e.g. shipping notices to buyers).
    ``id_range=(first, last)``: only the members with ids in that range, in the database's order
    (the dispatcher rechecks its crowd page by page, so its memory stays flat).
    """
    send_utc = to_utc(send_time)
    key = {"sale_id": sale_id, "strategy_id": strategy_id, "run_key": run_key}
    page = {**key, "ranged": int(id_range is not None), "id_from": id_range[0] if id_range else "",
            "id_to": id_range[1] if id_range else ""}
    with engine.connect() as conn:
        run = conn.execute(select(segment_runs.c.as_of, segment_runs.c.channels).where(
            (segment_runs.c.sale_id == sale_id) & (segment_runs.c.strategy_id == strategy_id)
            & (segment_runs.c.run_key == run_key))).first()
        if run is None:
            raise SnapshotMissing(f"no segment run {sale_id}/{strategy_id}/{run_key}")
        as_of, channels = run.as_of, set(filter(None, (run.channels or "").split(",")))
        if send_utc < as_of:
            raise ValueError(f"send time {send_time.isoformat()} is before the segment moment (UTC {as_of})")
        candidates = {str(r[0]) for r in conn.execute(statement("crowds/support/snapshot_treatment", page), page)}
        skipped = {r: 0 for r in SKIP_REASONS}
        drop: dict[str, str] = {}
        if channels:
            binds = {**page, "send_time": send_utc, "use_sms": int("sms" in channels),
                     "use_email": int("email" in channels), "use_inapp": int("inapp" in channels)}
            for cid, reason in conn.execute(statement("crowds/support/recheck_contact", binds), binds):
                drop.setdefault(str(cid), reason)
        if skip_paid_since:
            binds = {**page, "as_of": as_of, "send_time": send_utc}
            for (cid,) in conn.execute(statement("crowds/support/recheck_paid_since", binds), binds):
                drop.setdefault(str(cid), "paid_since_segment")
    if already_messaged is not None:
        remaining = candidates - set(drop)
        messaged = already_messaged(remaining) if callable(already_messaged) else already_messaged
        for cid in set(messaged) & remaining:
            drop[cid] = "messaged_today"
    for reason in drop.values():
        skipped[reason] += 1
    to_send = sorted(candidates - set(drop))
    log.log(logging.DEBUG if id_range else logging.INFO, "%s/%s/%s recheck at %s: %d to send, skipped %s",
            sale_id, strategy_id, run_key, send_time.isoformat(), len(to_send), {k: v for k, v in skipped.items() if v})
    return to_send, skipped
