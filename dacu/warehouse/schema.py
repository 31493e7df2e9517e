"""The warehouse schema (SQLAlchemy Core), identical on SQLite and PostgreSQL.

Conventions (docs/warehouse.md has the column contract):
- Every timestamp is stored as a *naive UTC* ``DateTime``. Sale-local days
  (Asia/Shanghai) are turned into UTC bounds in Python and passed as bind
  parameters, so the same SQL runs on both databases.
- Money is ``Numeric(12, 2)`` in yuan.
- Natural ids from the platform (customer, order, SKU, coupon) are text keys;
  a re-import upserts by them.
"""
from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

MONEY = Numeric(12, 2)

# Order status values. A presale order is ``deposit_paid`` between deposit and
# balance; it becomes ``paid`` when the balance is paid (seed 000: a presale
# order counts as a sale when its balance is paid).
ORDER_STATUSES = ("unpaid", "deposit_paid", "paid", "closed", "refunded")
# Where an order came from; ``juhuasuan`` (聚划算) matters for payment reminders
# (seed 004: remind after ~15 minutes instead of ~25).
ORDER_SOURCES = ("normal", "juhuasuan", "presale", "live", "other")
EVENT_TYPES = ("visit", "cart", "favourite", "coupon_claim")
CHANNELS = ("sms", "email", "inapp")

customers = Table(
    "customers",
    metadata,
    Column("customer_id", String(64), primary_key=True),
    Column("nick", String(128)),
    Column("mobile", String(20)),            # PII: never logged, masked in output
    Column("email", String(254)),            # PII
    Column("province", String(32)),
    Column("first_seen_at", DateTime, nullable=False),
    Column("member_since", DateTime),        # NULL: not a member
    Column("member_level", Integer, nullable=False, default=0),  # 0 none, 1..4 VIP1..VIP4
    Column("fan_since", DateTime),           # subscription fan (订阅粉); NULL: not a fan
    Column("live_fan_since", DateTime),      # live-stream fan (直播铁粉)
    Column("consent_sms", Boolean, nullable=False, default=True),
    Column("consent_email", Boolean, nullable=False, default=True),
    Column("consent_inapp", Boolean, nullable=False, default=True),
    Column("opted_out_at", DateTime),        # 退订: never contacted for marketing after this
    Column("blacklisted", Boolean, nullable=False, default=False),
    Column("import_batch_id", Integer),
    Column("updated_at", DateTime),
)
Index("ix_customers_member_since", customers.c.member_since)
Index("ix_customers_fan_since", customers.c.fan_since)

skus = Table(
    "skus",
    metadata,
    Column("sku_id", String(64), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("category", String(64), nullable=False),
    Column("list_price", MONEY, nullable=False),
    # Typical days between two purchases of this SKU by one customer; NULL when
    # unknown (the repurchase-due crowd estimates it from order history).
    Column("repurchase_cycle_days", Integer),
    Column("import_batch_id", Integer),
)
Index("ix_skus_category", skus.c.category)

orders = Table(
    "orders",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("platform", String(16), nullable=False, default="tmall"),
    Column("status", String(16), nullable=False),
    Column("source", String(16), nullable=False, default="normal"),
    Column("seller_flag", String(16)),       # 卖家旗帜 (red/yellow/green/blue/purple), filters reminders
    Column("created_at", DateTime, nullable=False),
    Column("paid_at", DateTime),             # full payment; for presale: the balance payment time
    Column("closed_at", DateTime),
    Column("refunded_at", DateTime),
    Column("amount", MONEY, nullable=False),  # total paid/payable (deposit + balance for presale)
    Column("is_presale", Boolean, nullable=False, default=False),
    Column("deposit_amount", MONEY),
    Column("deposit_paid_at", DateTime),
    Column("balance_amount", MONEY),
    Column("balance_paid_at", DateTime),
    Column("import_batch_id", Integer),
    Column("updated_at", DateTime),
)
Index("ix_orders_customer_paid", orders.c.customer_id, orders.c.paid_at)
Index("ix_orders_paid_at", orders.c.paid_at)
Index("ix_orders_created_at", orders.c.created_at)
Index("ix_orders_deposit_paid_at", orders.c.deposit_paid_at)
# closed_unpaid_potentials reads a few days of closed orders; partial: most orders never close
Index("ix_orders_closed_at", orders.c.closed_at, postgresql_where=orders.c.closed_at.isnot(None),
      sqlite_where=orders.c.closed_at.isnot(None))

order_items = Table(
    "order_items",
    metadata,
    Column("order_id", String(64), ForeignKey("orders.order_id", ondelete="CASCADE"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("sku_id", String(64), nullable=False),
    Column("category", String(64), nullable=False),
    Column("price", MONEY, nullable=False),
    Column("quantity", Integer, nullable=False),
)
Index("ix_order_items_sku", order_items.c.sku_id)

events = Table(
    "events",
    metadata,
    Column("event_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("event_type", String(16), nullable=False),   # EVENT_TYPES
    Column("occurred_at", DateTime, nullable=False),
    Column("sku_id", String(64)),
    Column("category", String(64)),
    Column("coupon_id", String(64)),                    # for coupon_claim
    Column("import_batch_id", Integer),
)
Index("ix_events_type_time", events.c.event_type, events.c.occurred_at)
Index("ix_events_customer_type_time", events.c.customer_id, events.c.event_type, events.c.occurred_at)

coupons = Table(
    "coupons",
    metadata,
    Column("coupon_id", String(64), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("kind", String(32), nullable=False),         # store / member / repurchase / new_customer / compensation ...
    Column("face_value", MONEY, nullable=False),
    Column("threshold", MONEY, nullable=False, default=0),
    Column("valid_from", DateTime),
    Column("valid_to", DateTime),
    Column("issued_at", DateTime),                      # created on the platform; NULL = not issued yet
    Column("total_quantity", Integer),
    Column("import_batch_id", Integer),
)

coupon_grants = Table(
    "coupon_grants",
    metadata,
    Column("grant_id", String(64), primary_key=True),
    Column("coupon_id", String(64), nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("granted_at", DateTime, nullable=False),
    Column("expires_at", DateTime),
    Column("redeemed_at", DateTime),
    Column("order_id", String(64)),
    Column("import_batch_id", Integer),
)
Index("ix_coupon_grants_customer", coupon_grants.c.customer_id, coupon_grants.c.expires_at)

import_batches = Table(
    "import_batches",
    metadata,
    Column("batch_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),         # csv_load / orders_export / generate
    Column("source", Text, nullable=False),             # file or folder, format name
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("period_start", DateTime),                   # earliest business time in the loaded rows
    Column("period_end", DateTime),
    Column("rows_read", BigInteger().with_variant(Integer, "sqlite"), nullable=False, default=0),
    Column("rows_loaded", BigInteger().with_variant(Integer, "sqlite"), nullable=False, default=0),
    Column("rows_rejected", BigInteger().with_variant(Integer, "sqlite"), nullable=False, default=0),
    Column("rejects_file", Text),
    Column("status", String(16), nullable=False),       # running / done / failed
)

import_rejects = Table(
    "import_rejects",
    metadata,
    Column("batch_id", Integer, primary_key=True),
    Column("table_name", String(32), primary_key=True),
    Column("line_no", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),  # line in the source file
    Column("record_key", String(128)),
    Column("reason", String(64), nullable=False),       # machine code, e.g. bad_date / negative_amount
    Column("detail", Text),                             # human text; PII masked
    Column("resolved", Boolean, nullable=False, default=False),
)

# Peer averages (同行同层) imported from the platform's download; metric
# snapshots show them beside the shop's own figures.
peer_benchmarks = Table(
    "peer_benchmarks",
    metadata,
    Column("sale_id", String(64), primary_key=True),
    Column("metric_day", Date, primary_key=True),
    Column("crowd", String(32), primary_key=True),
    Column("metric", String(64), primary_key=True),
    Column("value", Numeric(18, 6), nullable=False),
    Column("import_batch_id", Integer),
)

TABLES = {t.name: t for t in metadata.sorted_tables}

# --- crowds ---------------------------------------------------------------------------------------
# Written by dacu.crowds (docs/crowds.md). A segment run is keyed by
# (sale_id, strategy_id, run_key) and replaced as a whole on rerun.

# Who a strategy's run selected, frozen at segment time. ``is_holdout`` rows are
# the control group: never sent, recorded as *virtual sends* at ``as_of`` so the
# uplift read compares them with the treated rows of the same run.
crowd_snapshots = Table(
    "crowd_snapshots",
    metadata,
    Column("sale_id", String(64), primary_key=True),
    Column("strategy_id", String(64), primary_key=True),
    Column("run_key", String(250), primary_key=True),
    Column("customer_id", String(64), primary_key=True),
    Column("wave", String(64)),
    Column("is_holdout", Boolean, nullable=False),
    Column("as_of", DateTime, nullable=False),        # the gate moment (naive UTC)
)
Index("ix_crowd_snapshots_customer", crowd_snapshots.c.sale_id, crowd_snapshots.c.customer_id)

# One summary row per segment run: counts, exclusions by reason, the channels
# the send-time recheck re-applies.
segment_runs = Table(
    "segment_runs",
    metadata,
    Column("sale_id", String(64), primary_key=True),
    Column("strategy_id", String(64), primary_key=True),
    Column("run_key", String(250), primary_key=True),
    Column("wave", String(64)),
    Column("as_of", DateTime, nullable=False),
    Column("crowd_expr", Text, nullable=False),       # JSON of the strategy's crowd expression
    Column("channels", String(64), nullable=False),   # comma-separated, e.g. "sms,inapp"
    Column("holdout_pct", Numeric(5, 2), nullable=False),
    Column("crowd_size", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("treatment", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("holdout", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("excluded", Text, nullable=False),         # JSON {reason: count}
    Column("warning", Text),                          # e.g. crowd too small to read an uplift
)

TABLES = {t.name: t for t in metadata.sorted_tables}

# --- dispatch -------------------------------------------------------------------------------------
# Written by dacu.dispatch (docs/dispatch.md). The ledger is the outbox: one row
# per deterministic message key sha256(sale|strategy|wave|customer|channel),
# inserted (reserved) BEFORE the provider call and marked after it, so a rerun,
# a killed worker or a backfill never sends a key twice and never drops one.
DISPATCH_STATES = ("held", "reserved", "sent", "failed", "unknown", "skipped", "holdout")

dispatch_ledger = Table(
    "dispatch_ledger",
    metadata,
    Column("message_key", String(64), primary_key=True),  # sha256 hex; the gateway's client message id
    Column("sale_id", String(64), nullable=False),
    Column("strategy_id", String(64), nullable=False),
    Column("wave", String(64), nullable=False),            # the send occasion, e.g. "sale@2027-06-19T20:00"
    Column("run_key", String(250), nullable=False),        # the crowd snapshot the row came from
    Column("customer_id", String(64), nullable=False),
    Column("channel", String(8), nullable=False),          # sms | email | inapp
    Column("msg_class", String(12), nullable=False),       # marketing | reminder | notice
    Column("state", String(12), nullable=False),           # DISPATCH_STATES
    Column("reason", String(48)),                          # skip / failure reason code
    Column("planned_at", DateTime, nullable=False),        # the strategy's send time (naive UTC)
    Column("hold_until", DateTime),                        # quiet hours: not before this
    Column("expires_at", DateTime),                        # quiet hours: skipped(expired) after this
    Column("sent_day", Date),                              # sale-local day of the provider call (caps)
    Column("attempts", Integer, nullable=False, default=0),
    Column("segments", Integer),
    Column("cost", Numeric(12, 4)),
    Column("provider_id", String(64)),
    Column("receipt", String(12)),                         # delivered | failed (from the gateway)
    Column("receipt_at", DateTime),
    Column("updated_at", DateTime, nullable=False),        # the dispatch's send time, not the wall clock
    # PostgreSQL: half-full pages leave room for a row's later versions on its own page, so the
    # receipt update (no indexed column) is a HOT update without index writes: measured, receipts
    # at half the cost per key (docs/dispatch.md, Throughput). New tables only (init_schema).
    postgresql_with={"fillfactor": 50},
)
# The occasion's rows (counts, pending keys, receipts). No state column in it: a row's state
# changes (reserved -> sent) would then write new entries in every index; without it that mark,
# like the receipt, is a HOT update of the row alone (docs/dispatch.md, Throughput). The queries
# by state read the occasion's rows and filter them. A ledger created before keeps its older
# (sale, strategy, wave, state) index until rebuilt (docs/dispatch.md, "Existing ledgers").
Index("ix_dispatch_ledger_run", dispatch_ledger.c.sale_id, dispatch_ledger.c.strategy_id, dispatch_ledger.c.wave)
Index("ix_dispatch_ledger_customer", dispatch_ledger.c.sale_id, dispatch_ledger.c.customer_id)

# Cap slots: a customer's per-day / per-sale allowance on a channel is a set of
# numbered slots; a message takes one with INSERT .. ON CONFLICT DO NOTHING, so
# two strategies dispatching at once cannot both take the last slot.
dispatch_cap_slots = Table(
    "dispatch_cap_slots",
    metadata,
    Column("scope", String(16), primary_key=True),         # mkt_day | mkt_sale | remind_day | remind_sale
    Column("period", String(64), primary_key=True),        # "<sale>/<local day>" or "<sale>"
    Column("customer_id", String(64), primary_key=True),
    Column("channel", String(8), primary_key=True),
    Column("slot", Integer, primary_key=True),
    Column("message_key", String(64), nullable=False),
)
# No index on message_key: slots are given back by (scope, period, customer, channel, key), the
# primary key's own prefix, so a claim writes one index entry instead of two.

TABLES = {t.name: t for t in metadata.sorted_tables}

# --- metrics --------------------------------------------------------------------------------------
# Written by dacu.metrics (docs/metrics.md): the war-room snapshot of seed 000 §四
# (one row per crowd and range, wide) and the seed 002 warm-up view (one row per
# day and new/old). Published only after the Great Expectations suite passes;
# candidates and the validation verdict are kept per run_key for inspection.
# Metric columns come from dacu.metrics.definitions (the single metric list).
from sqlalchemy import Float  # noqa: E402

from dacu.metrics.definitions import SNAPSHOT_METRICS as _SNAPSHOT_METRICS  # noqa: E402
from dacu.metrics.definitions import WARMUP_METRICS as _WARMUP_METRICS  # noqa: E402

_COUNT = BigInteger().with_variant(Integer, "sqlite")
_METRIC_TYPES = {"count": _COUNT, "amount": Numeric(14, 2), "value": Numeric(14, 2), "rate": Float, "peer": Float}


def _snapshot_metric_columns() -> list[Column]:
    # rates/values are NULL when their denominator is 0; counts and amounts never are
    return [Column(m.name, _METRIC_TYPES[m.kind], nullable=m.kind not in ("count", "amount"))
            for m in _SNAPSHOT_METRICS]


def _snapshot_table(name: str, key_first: str | None) -> Table:
    key = [Column(key_first, String(250), primary_key=True)] if key_first else []
    return Table(
        name,
        metadata,
        *key,
        Column("sale_id", String(64), primary_key=not key_first, nullable=False),
        Column("day_from", Date, primary_key=True),
        Column("day_to", Date, primary_key=True),
        Column("crowd", String(32), primary_key=True),
        *_snapshot_metric_columns(),
        Column("reference_day", Date, nullable=False),
        Column("active_rv_days", Integer, nullable=False),
        *([] if key_first else [Column("run_key", String(250), nullable=False)]),
        Column("validated_at", DateTime, nullable=False),      # the caller's time (naive UTC)
    )


# Published snapshots, keyed (sale_id, day_from, day_to, crowd); a rerun replaces its key.
metric_snapshots = _snapshot_table("metric_snapshots", None)
# Every computed snapshot, passed or not, keyed by the run that computed it.
metric_snapshot_candidates = _snapshot_table("metric_snapshot_candidates", "run_key")


def _warmup_table(name: str, key_first: str | None) -> Table:
    key = [Column(key_first, String(250), primary_key=True)] if key_first else []
    return Table(
        name,
        metadata,
        *key,
        Column("sale_id", String(64), primary_key=not key_first, nullable=False),
        Column("metric_day", Date, primary_key=True),
        Column("crowd", String(32), primary_key=True),
        *[Column(m.name, _COUNT, nullable=False) for m in _WARMUP_METRICS],
        *([] if key_first else [Column("run_key", String(250), nullable=False)]),
        Column("validated_at", DateTime, nullable=False),
    )


metric_warmup_daily = _warmup_table("metric_warmup_daily", None)
metric_warmup_candidates = _warmup_table("metric_warmup_candidates", "run_key")

# One verdict per run and range: did the suite pass, and what failed (names + offending crowds).
metric_validations = Table(
    "metric_validations",
    metadata,
    Column("run_key", String(250), primary_key=True),
    Column("day_from", Date, primary_key=True),
    Column("day_to", Date, primary_key=True),
    Column("sale_id", String(64), nullable=False),
    Column("success", Boolean, nullable=False),           # the publishing gate (no critical failure)
    Column("published", Boolean, nullable=False),
    Column("expectations_evaluated", Integer, nullable=False),
    Column("failed", Text, nullable=False),               # JSON list: suite, name, severity, rows, detail
    Column("validated_at", DateTime, nullable=False),
)
Index("ix_metric_validations_sale", metric_validations.c.sale_id, metric_validations.c.day_from)

# Incremental metric state (dacu.metrics.state, docs/metrics.md "Speed design"): what a day's snapshot
# would otherwise re-derive from the whole history. Rebuilt when the import batches change (data mark).
metric_state_builds = Table(
    "metric_state_builds",
    metadata,
    Column("state_key", String(128), primary_key=True),       # "customers" | "spells|<tz>|<window days>"
    Column("version", Integer, nullable=False),               # dacu.metrics.state.STATE_VERSION
    Column("data_mark", String(64), nullable=False),          # import batches seen when built
    Column("build_id", String(32), nullable=False),           # changes on every build (readers re-check it)
    Column("covers_from", Integer),                           # spells: first local day number of activity read
    Column("row_count", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("seconds", Float, nullable=False),
)

# One row per customer id seen anywhere (customers, orders, events).
metric_customer_state = Table(
    "metric_customer_state",
    metadata,
    Column("customer_id", String(64), primary_key=True),
    Column("first_known_at", DateTime),                       # earliest first_seen/member/fan/order/event
    Column("first_pay_at", DateTime),                         # earliest payment (presale: balance)
    Column("member_since", DateTime),
    Column("fan_since", DateTime),
)

# Rows a day's indexed reads would miss: presale orders paid (balance) at another time than paid_at,
# events of a type outside EVENT_TYPES. Usually empty.
metric_offindex_rows = Table(
    "metric_offindex_rows",
    metadata,
    Column("row_kind", String(8), primary_key=True),          # order | event
    Column("row_id", String(64), primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("row_at", DateTime, nullable=False),               # order: payment moment; event: occurred_at
)
Index("ix_metric_offindex_rows_at", metric_offindex_rows.c.row_kind, metric_offindex_rows.c.row_at)

# UTC date -> sale-local day numbers (date.toordinal()), split at the local midnights inside the UTC date.
metric_day_calendar = Table(
    "metric_day_calendar",
    metadata,
    Column("tz", String(64), primary_key=True),
    Column("utc_date", Date, primary_key=True),
    Column("day0", Integer, nullable=False),
    Column("split1", DateTime),
    Column("day1", Integer),
    Column("split2", DateTime),
    Column("day2", Integer),
)

# RV customers' activity spells: active (a visit or payment in the window_days local days before
# 00:00 of local day X) exactly for from_day <= X <= to_day.
metric_active_spells = Table(
    "metric_active_spells",
    metadata,
    Column("tz", String(64), primary_key=True),
    Column("window_days", Integer, primary_key=True),
    Column("customer_id", String(64), primary_key=True),
    Column("spell_no", Integer, primary_key=True),
    Column("from_day", Integer, nullable=False),
    Column("to_day", Integer, nullable=False),
    Column("member_since", DateTime),
    Column("fan_since", DateTime),
)

TABLES = {t.name: t for t in metadata.sorted_tables}

# --- readiness ------------------------------------------------------------------------------------
# Written by dacu.readiness (docs/readiness.md). One row per gate and check moment,
# replaced on rerun; the latest row per gate at or before a moment decides which
# strategies are blocked (``blocked`` JSON {strategy_id: reason}).
READINESS_STATUSES = ("pass", "warn", "fail")

readiness_results = Table(
    "readiness_results",
    metadata,
    Column("sale_id", String(64), primary_key=True),
    Column("gate", String(32), primary_key=True),          # history / coupons / budget / sms_lint / carriers / ...
    Column("check_at", DateTime, primary_key=True),        # the check moment (naive UTC), never the wall clock
    Column("status", String(8), nullable=False),           # READINESS_STATUSES
    Column("reasons", Text, nullable=False),               # JSON list of human-readable lines (no PII)
    Column("details", Text, nullable=False),               # JSON object, gate-specific figures
    Column("blocked", Text, nullable=False),               # JSON {strategy_id: reason}
)
Index("ix_readiness_results_sale_at", readiness_results.c.sale_id, readiness_results.c.check_at)

# Human answers to approval and scene tasks (Airflow HITL): who, when, what.
readiness_confirmations = Table(
    "readiness_confirmations",
    metadata,
    Column("sale_id", String(64), primary_key=True),
    Column("kind", String(16), primary_key=True),          # approval | scene_task
    Column("item_id", String(64), primary_key=True),       # the strategy id
    Column("moment", DateTime, primary_key=True),          # the send / task moment (naive UTC)
    Column("decision", String(32), nullable=False),        # the chosen option
    Column("responded_by", String(128)),
    Column("responded_at", DateTime),                      # the person's answer time (naive UTC)
    Column("detail", Text, nullable=False),                # JSON: crowd size, cost, params input
)

TABLES = {t.name: t for t in metadata.sorted_tables}

# --- crowd features -------------------------------------------------------------------------------
# Written by dacu.crowds.features (docs/crowds.md "Speed design"): per sale and sale-local day a
# *base* layer (one row per customer: orders and events before the day's 00:00, built once per day
# and data mark) and per gate moment a small *gate* layer (the customers whose orders or events
# changed since 00:00, as full rows as of the moment). A crowd reads the gate row of a customer if
# there is one, else the base row. A layer is replaced as a whole (one transaction) and reused while
# its version and data mark (the import batches seen) are current.
crowd_feature_layers = Table(
    "crowd_feature_layers",
    metadata,
    Column("sale_id", String(64), primary_key=True),
    Column("layer", String(40), primary_key=True),            # "base:YYYY-MM-DD" | "gate:YYYY-MM-DDTHH:MM:SS" (UTC)
    Column("day", Date, nullable=False),                      # the sale-local day (housekeeping)
    Column("version", Integer, nullable=False),               # dacu.crowds.features.FEATURE_VERSION
    Column("data_mark", String(64), nullable=False),          # import batches seen when built
    Column("row_count", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("seconds", Float, nullable=False),                 # build duration (monotonic clock)
)

crowd_feature_rows = Table(
    "crowd_feature_rows",
    metadata,
    Column("sale_id", String(64), primary_key=True),
    Column("layer", String(40), primary_key=True),
    Column("customer_id", String(64), primary_key=True),
    Column("in_customers", Integer, nullable=False),          # 1: has a customers row
    Column("known_since", DateTime),                          # first seen / member / fan / first order created
    Column("member_since", DateTime),
    # current-state customer columns (as the reference SQL reads them), compared with the moment
    Column("member_level", Integer),
    Column("fan_since", DateTime),
    Column("live_fan_since", DateTime),
    Column("mobile_seen_at", DateTime),                       # first_seen_at if the mobile is valid
    # paid order = COALESCE(paid_at, balance_paid_at); windows are sale-local days back from the day
    Column("first_paid_at", DateTime),
    Column("last_paid_at", DateTime),
    *[Column(f"paid_orders_{w}", Integer, nullable=False) for w in ("90", "180", "365", "all")],
    *[Column(f"paid_amount_{w}", Numeric(14, 2)) for w in ("90", "180", "365", "all")],
    *[Column(f"paid_amount_y{n}", Numeric(14, 2)) for n in (1, 2, 3)],   # calendar years before the day's
    # events of the last 30 days
    Column("last_visit_at", DateTime),
    Column("last_vcf_at", DateTime),                          # visit / cart / favourite
    Column("last_cf_at", DateTime),                           # cart / favourite
    Column("last_cfc_at", DateTime),                          # cart / favourite / coupon_claim
    *[Column(f"visits_{w}", Integer, nullable=False) for w in (7, 14, 30)],
    # base rows: the earliest balance_paid_at from the day's 00:00 on of an order without paid_at
    # (no index finds those: a gate at or after it reads the customer's orders); NULL on gate rows
    Column("next_balance_at", DateTime),
)
# the members of a crowd's history part (a crowd's window before the day's 00:00), one layer per
# (sale-local day, crowd and params): layer "part:YYYY-MM-DD:<digest>", registered in crowd_feature_layers
crowd_part_rows = Table(
    "crowd_part_rows",
    metadata,
    Column("sale_id", String(64), primary_key=True),
    Column("layer", String(40), primary_key=True),
    Column("customer_id", String(64), primary_key=True),
)

# gate.sql finds the (rare) customers with a balance paid without paid_at today; partial: ~empty
Index("ix_crowd_feature_rows_balance", crowd_feature_rows.c.sale_id, crowd_feature_rows.c.layer,
      crowd_feature_rows.c.next_balance_at,
      postgresql_where=crowd_feature_rows.c.next_balance_at.isnot(None),
      sqlite_where=crowd_feature_rows.c.next_balance_at.isnot(None))

TABLES = {t.name: t for t in metadata.sorted_tables}
