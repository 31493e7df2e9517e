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

# One row per task execution of a phase DAG run: what ran, for the demo print
# and the war room. Keyed by (sale, dag run, task) and replaced on rerun.
phase_task_log = Table(
    "phase_task_log",
    metadata,
    Column("sale_id", String(64), primary_key=True),
    Column("run_id", String(250), primary_key=True),
    Column("task_id", String(250), primary_key=True),
    Column("phase_id", String(32), nullable=False),
    Column("sale_day", Date, nullable=False),
    Column("summary", Text, nullable=False),            # JSON: counts and keys only
    Column("recorded_at", DateTime, nullable=False),
)
Index("ix_phase_task_log_day", phase_task_log.c.sale_id, phase_task_log.c.sale_day)

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
