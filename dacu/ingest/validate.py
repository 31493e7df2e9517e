"""Row parsing: one CSV record -> a warehouse record, or a ``Reject`` with a reason code."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from dacu.ingest.contract import ColumnSpec, TableContract
from dacu.ingest.errors import BadValue
from dacu.ingest.values import (
    LocalTimeParser,
    parse_bool,
    parse_email,
    parse_int,
    parse_mobile,
    parse_money,
    parse_text,
)
from dacu.pii import scrub


@dataclass
class Reject:
    line_no: int
    reason: str
    detail: str
    record_key: str | None
    raw: list[str]

    def masked_detail(self) -> str:
        return scrub(self.detail)


def cell_parser(spec: ColumnSpec, times: LocalTimeParser) -> Callable[[str], object]:
    """The parser of one column (stripped, non-empty cell -> value)."""
    name = spec.name
    if spec.kind == "datetime":
        return lambda raw: times(raw, name)
    if spec.kind == "money":
        return lambda raw: parse_money(raw, name)
    if spec.kind == "bool":
        return lambda raw: parse_bool(raw, name)
    if spec.kind == "int":
        lo, hi = spec.min_value, spec.max_value
        return lambda raw: parse_int(raw, name, lo, hi)
    if spec.pii == "mobile":
        return lambda raw: parse_mobile(raw, name)
    if spec.pii == "email":
        return lambda raw: parse_email(raw, name, spec.max_len)
    if spec.choices is not None:
        allowed, reason = frozenset(spec.choices), spec.choice_reason

        def choice(raw: str) -> str:
            if raw not in allowed:
                shown = raw if len(raw) <= 40 else raw[:40] + "…"
                raise BadValue(reason, f"{name} {shown!r} is not one of {', '.join(spec.choices)}", name)
            return raw
        return choice
    max_len = spec.max_len
    return lambda raw: parse_text(raw, name, max_len)


def digest(values: tuple) -> bytes:
    """A short fingerprint of a parsed record: equal data -> equal digest."""
    return hashlib.blake2b(repr(values).encode("utf-8"), digest_size=16).digest()


def _order_rules(rec: dict) -> None:
    status = rec["status"]
    needs = {"paid": "paid_at", "deposit_paid": "deposit_paid_at", "closed": "closed_at",
             "refunded": "refunded_at"}.get(status)
    if needs and rec.get(needs) is None:
        raise BadValue("missing_field", f"{needs} is required when status is {status}", needs)
    created: datetime = rec["created_at"]
    for col in ("paid_at", "deposit_paid_at", "balance_paid_at"):
        if rec.get(col) is not None and rec[col] < created:
            raise BadValue("bad_date", f"{col} is before created_at", col)


def _coupon_rules(rec: dict) -> None:
    if rec.get("valid_from") and rec.get("valid_to") and rec["valid_to"] < rec["valid_from"]:
        raise BadValue("bad_date", "valid_to is before valid_from", "valid_to")


def _grant_rules(rec: dict) -> None:
    if rec.get("redeemed_at") is not None and rec["redeemed_at"] < rec["granted_at"]:
        raise BadValue("bad_date", "redeemed_at is before granted_at", "redeemed_at")


ROW_RULES: dict[str, Callable[[dict], None]] = {
    "orders": _order_rules,
    "coupons": _coupon_rules,
    "coupon_grants": _grant_rules,
}


class RowValidator:
    """Parses records of one table file whose header is ``index`` (column -> position)."""

    NULLS = frozenset({"", "\\N", "NULL", "null"})

    def __init__(self, contract: TableContract, index: dict[str, int], times: LocalTimeParser) -> None:
        self.contract = contract
        self.width = len(index)
        # Hot loop data as plain tuples: (name, position, parser, required, default).
        self.plan = [(spec.name, index[spec.name], cell_parser(spec, times), spec.required, spec.default)
                     for spec in contract.columns if spec.name in index]
        # Optional columns absent from the header take their default on every row.
        self.absent = {spec.name: spec.default for spec in contract.columns if spec.name not in index}
        self.order = contract.column_names
        self.key_positions = [index[k] for k in contract.key]
        self.rules = ROW_RULES.get(contract.table)

    def record_key(self, raw: list[str]) -> str | None:
        try:
            return "|".join(raw[i].strip() for i in self.key_positions) or None
        except IndexError:
            return None

    def parse(self, raw: list[str]) -> dict:
        """The record of ``raw`` (contract columns only); raises ``BadValue``."""
        if len(raw) != self.width:
            raise BadValue("bad_row", f"line has {len(raw)} fields, header has {self.width}")
        values: dict = {}
        nulls = self.NULLS
        for name, pos, parse, required, default in self.plan:
            cell = raw[pos].strip()
            if cell in nulls:
                if required:
                    raise BadValue("missing_field", f"{name} is empty", name)
                values[name] = default
            else:
                values[name] = parse(cell)
        if self.absent:
            values.update(self.absent)
        rec = {name: values[name] for name in self.order}      # contract order: stable digests
        if self.rules is not None:
            self.rules(rec)
        return rec
