"""The CSV column contract of ``dacu data load``: one file per warehouse table.

Column names are the warehouse columns (dacu/warehouse/schema.py); types, lengths,
required-ness and defaults are read from the schema so the contract cannot drift
from it. What the schema cannot say (allowed values, minimums, PII, references,
business-time columns) is written here. docs/data-contract.md documents it.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from sqlalchemy import Boolean, DateTime, Integer, Numeric, String, Table

from dacu.warehouse import schema

Kind = Literal["text", "int", "money", "datetime", "bool"]

# Reason codes stored in import_rejects.reason (docs/data-contract.md lists them).
REASONS = {
    "bad_row": "the line has a different number of fields than the header",
    "missing_field": "a required value is empty",
    "bad_date": "a time is not in the expected format or outside 2000–2099, or out of order",
    "bad_number": "not a number, not an integer, more than 2 decimals, too large or out of range",
    "negative_amount": "an amount is below zero",
    "bad_bool": "a flag is not 0/1/true/false/是/否",
    "too_long": "a text is longer than the warehouse column",
    "bad_mobile": "not an 11-digit mainland mobile",
    "bad_email": "not an email address",
    "unknown_status": "an order status outside the known values (or the format's mapping)",
    "unknown_source": "an order source/type outside the known values (or the format's mapping)",
    "unknown_value": "another coded value outside its allowed set",
    "unknown_customer": "the customer is not in the warehouse",
    "unknown_order": "an order line refers to an order not in the warehouse",
    "unknown_coupon": "a grant refers to a coupon not in the warehouse",
    "conflicting_duplicate": "the same id appears again in the file with different data",
    "order_rejected": "platform export: another line of the same order was rejected",
}

PLATFORMS = ("tmall", "taobao", "jd")
SELLER_FLAGS = ("red", "yellow", "green", "blue", "purple")


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: Kind
    required: bool
    max_len: int | None = None
    default: object = None
    choices: tuple[str, ...] | None = None
    choice_reason: str = "unknown_value"
    min_value: int | None = None
    max_value: int | None = None
    pii: Literal["mobile", "email"] | None = None


@dataclass(frozen=True)
class Reference:
    """A column whose value must already exist in another warehouse table."""

    column: str
    table: str
    key: str
    reason: str


@dataclass(frozen=True)
class TableContract:
    table: str
    key: tuple[str, ...]
    columns: tuple[ColumnSpec, ...]
    period_columns: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()
    # order_items: the lines of an order in the file replace all its stored lines.
    replace_by: str | None = None
    stamped: bool = True            # the table has import_batch_id
    has_updated_at: bool = False

    @property
    def file_name(self) -> str:
        return f"{self.table}.csv"

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _kind_of(col) -> Kind:
    t = col.type
    if isinstance(t, Boolean):
        return "bool"
    if isinstance(t, DateTime):
        return "datetime"
    if isinstance(t, Numeric):
        return "money"
    if isinstance(t, Integer):      # BigInteger is an Integer
        return "int"
    if isinstance(t, String):
        return "text"
    raise TypeError(f"no CSV kind for column {col.table.name}.{col.name} of type {t!r}")


def _columns(table: Table, names: tuple[str, ...], **extra: dict) -> tuple[ColumnSpec, ...]:
    specs = []
    for name in names:
        col = table.c[name]
        default = col.default.arg if col.default is not None and col.default.is_scalar else None
        required = (not col.nullable) and default is None
        opts = dict(extra.get(name, {}))
        kind = _kind_of(col)
        if kind == "money" and default is not None:
            default = Decimal(str(default)).quantize(Decimal("0.01"))
        specs.append(ColumnSpec(
            name=name,
            kind=kind,
            required=opts.pop("required", required),
            max_len=getattr(col.type, "length", None),
            default=default,
            **opts,
        ))
    return tuple(specs)


def _contract(table: Table, key: tuple[str, ...], names: tuple[str, ...], *, extra: dict | None = None,
              **kwargs) -> TableContract:
    cols = _columns(table, names, **(extra or {}))
    return TableContract(
        table=table.name, key=key, columns=cols,
        stamped="import_batch_id" in table.c,
        has_updated_at="updated_at" in table.c,
        **kwargs,
    )


_CUSTOMER_REF = Reference("customer_id", "customers", "customer_id", "unknown_customer")

CONTRACTS: dict[str, TableContract] = {
    c.table: c for c in (
        _contract(
            schema.customers, ("customer_id",),
            ("customer_id", "nick", "mobile", "email", "province", "first_seen_at", "member_since",
             "member_level", "fan_since", "live_fan_since", "consent_sms", "consent_email", "consent_inapp",
             "opted_out_at", "blacklisted"),
            extra={"mobile": {"pii": "mobile"}, "email": {"pii": "email"},
                   "member_level": {"min_value": 0, "max_value": 4}},
            period_columns=("first_seen_at",),
        ),
        _contract(
            schema.skus, ("sku_id",),
            ("sku_id", "name", "category", "list_price", "repurchase_cycle_days"),
            extra={"repurchase_cycle_days": {"min_value": 1}},
        ),
        _contract(
            schema.coupons, ("coupon_id",),
            ("coupon_id", "name", "kind", "face_value", "threshold", "valid_from", "valid_to", "issued_at",
             "total_quantity"),
            extra={"total_quantity": {"min_value": 0}},
            period_columns=("issued_at", "valid_from", "valid_to"),
        ),
        _contract(
            schema.orders, ("order_id",),
            ("order_id", "customer_id", "platform", "status", "source", "seller_flag", "created_at", "paid_at",
             "closed_at", "refunded_at", "amount", "is_presale", "deposit_amount", "deposit_paid_at",
             "balance_amount", "balance_paid_at"),
            extra={
                "platform": {"choices": PLATFORMS},
                "status": {"choices": schema.ORDER_STATUSES, "choice_reason": "unknown_status"},
                "source": {"choices": schema.ORDER_SOURCES, "choice_reason": "unknown_source"},
                "seller_flag": {"choices": SELLER_FLAGS},
            },
            period_columns=("created_at", "paid_at", "closed_at", "refunded_at", "deposit_paid_at",
                            "balance_paid_at"),
            references=(_CUSTOMER_REF,),
        ),
        _contract(
            schema.order_items, ("order_id", "line_no"),
            ("order_id", "line_no", "sku_id", "category", "price", "quantity"),
            extra={"line_no": {"min_value": 1}, "quantity": {"min_value": 1}},
            references=(Reference("order_id", "orders", "order_id", "unknown_order"),),
            replace_by="order_id",
        ),
        _contract(
            schema.events, ("event_id",),
            ("event_id", "customer_id", "event_type", "occurred_at", "sku_id", "category", "coupon_id"),
            # event_id is the export's stable id: without it a re-import would duplicate events.
            extra={"event_id": {"required": True, "min_value": 1},
                   "event_type": {"choices": schema.EVENT_TYPES}},
            period_columns=("occurred_at",),
            references=(_CUSTOMER_REF,),
        ),
        _contract(
            schema.coupon_grants, ("grant_id",),
            ("grant_id", "coupon_id", "customer_id", "granted_at", "expires_at", "redeemed_at", "order_id"),
            period_columns=("granted_at", "redeemed_at"),
            references=(Reference("coupon_id", "coupons", "coupon_id", "unknown_coupon"), _CUSTOMER_REF),
        ),
    )
}

# Parents before children, so references resolve against rows loaded a moment earlier.
LOAD_ORDER: tuple[str, ...] = ("customers", "skus", "coupons", "orders", "order_items", "events", "coupon_grants")
assert set(LOAD_ORDER) == set(CONTRACTS)
