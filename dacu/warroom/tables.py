"""The war room's own summary table: dispatch totals per strategy and send occasion.

The page must answer in under a second at a million customers, so it never
groups the per-message ``dispatch_ledger``: each dispatch refreshes one small
row here (``dacu.warroom.totals.refresh_dispatch_totals``), keyed by
(sale, strategy, wave) like the ledger's occasions. Kept in its own MetaData so
the war room can create it without touching the shared schema module;
``init_warroom_schema`` is idempotent.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, Numeric, String, Table, Text
from sqlalchemy.engine import Engine

warroom_metadata = MetaData()
_COUNT = BigInteger().with_variant(Integer, "sqlite")

dispatch_totals = Table(
    "warroom_dispatch_totals",
    warroom_metadata,
    Column("sale_id", String(64), primary_key=True),
    Column("strategy_id", String(64), primary_key=True),
    Column("wave", String(64), primary_key=True),            # the ledger's occasion, e.g. "sale@2026-11-11T20:00"
    Column("run_key", String(250), nullable=False),          # the segment run the occasion sent from
    Column("sent", _COUNT, nullable=False),
    Column("failed", _COUNT, nullable=False),
    Column("held", _COUNT, nullable=False),                  # waiting for quiet hours to end
    Column("holdout", _COUNT, nullable=False),               # control group (virtual sends)
    Column("pending", _COUNT, nullable=False),               # reserved or unknown: the task retries them
    Column("dry_run", _COUNT, nullable=False),               # recorded by backfills / dry runs, never sent
    Column("delivered", _COUNT, nullable=False),
    Column("undelivered", _COUNT, nullable=False),
    Column("skipped", Text, nullable=False),                 # JSON {reason: count}
    Column("failed_by_reason", Text, nullable=False),        # JSON {reason: count}
    Column("cost", Numeric(14, 4), nullable=False),          # billed (state sent), yuan
    Column("updated_at", DateTime, nullable=False),          # the caller's time (naive UTC)
)


def init_warroom_schema(engine: Engine) -> None:
    """Create the war room's summary table if it is missing (idempotent)."""
    warroom_metadata.create_all(engine)
