"""Versioned column mappings of the platforms' order export CSVs (include/formats/<name>.yaml).

A format maps warehouse fields to the export's Chinese headers, and the export's
status / order-type / flag texts to warehouse codes. Those texts live only in
the YAML file: when a platform changes its export, a new version is added
(``tmall_orders_v2``) instead of editing code.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dacu.ingest.contract import PLATFORMS, SELLER_FLAGS
from dacu.ingest.errors import IngestFileError
from dacu.ingest.values import DEFAULT_TIME_FORMATS, get_zone
from dacu.paths import FORMATS_DIR
from dacu.warehouse.schema import ORDER_SOURCES, ORDER_STATUSES

ORDER_FIELDS = ("order_id", "customer_id", "status", "order_type", "seller_flag", "created_at", "paid_at",
                "closed_at", "close_reason", "refunded_at", "amount", "deposit_amount", "deposit_paid_at", "balance_amount",
                "balance_paid_at")
ITEM_FIELDS = ("sku_id", "item_title", "price", "quantity")
REQUIRED_FIELDS = ("order_id", "customer_id", "status", "created_at", "amount", "sku_id", "price", "quantity")
_NAME = re.compile(r"[a-z][a-z0-9_]{2,60}")


class OrderFormat(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: str
    platform: str
    description: str = ""
    timezone: str = "Asia/Shanghai"
    encoding: str = "auto"
    time_formats: tuple[str, ...] = DEFAULT_TIME_FORMATS
    null_values: tuple[str, ...] = ("",)
    # Exports write long ids as ="2145..." or '2145... so Excel keeps every digit.
    excel_text_prefix: bool = True
    # field -> header, or [header, fallback header, ...]: the first non-empty cell wins.
    columns: dict[str, tuple[str, ...]]
    statuses: dict[str, str]
    # A closed order whose close reason is one of these is a refund after payment.
    refund_close_reasons: tuple[str, ...] = ()
    order_types: dict[str, str] = Field(default_factory=dict)
    seller_flags: dict[str, str] = Field(default_factory=dict)
    unknown_category: str = "uncategorized"

    @field_validator("columns", mode="before")
    @classmethod
    def _headers_as_tuples(cls, value):
        if not isinstance(value, dict):
            raise ValueError("must be a mapping of field -> header")
        return {k: (v,) if isinstance(v, str) else tuple(v) for k, v in value.items()}

    @field_validator("platform")
    @classmethod
    def _platform(cls, value: str) -> str:
        if value not in PLATFORMS:
            raise ValueError(f"must be one of {', '.join(PLATFORMS)}")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        get_zone(value)
        return value

    @model_validator(mode="after")
    def _fields(self) -> "OrderFormat":
        known = set(ORDER_FIELDS) | set(ITEM_FIELDS)
        unknown = sorted(set(self.columns) - known)
        if unknown:
            raise ValueError(f"columns: unknown field(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        missing = [f for f in REQUIRED_FIELDS if f not in self.columns]
        if missing:
            raise ValueError(f"columns: required field(s) not mapped: {', '.join(missing)}")
        for name, allowed, mapping in (("statuses", ORDER_STATUSES, self.statuses),
                                       ("order_types", ORDER_SOURCES, self.order_types),
                                       ("seller_flags", SELLER_FLAGS, self.seller_flags)):
            bad = sorted({v for v in mapping.values() if v not in allowed})
            if bad:
                raise ValueError(f"{name}: value(s) {', '.join(bad)} not in {', '.join(allowed)}")
        if not self.statuses:
            raise ValueError("statuses: at least one status mapping is needed")
        return self

    def headers(self, field: str) -> tuple[str, ...]:
        return self.columns.get(field, ())

    def required_headers(self) -> list[tuple[str, tuple[str, ...]]]:
        return [(f, self.columns[f]) for f in REQUIRED_FIELDS]


def known_formats(folder: Path = FORMATS_DIR) -> list[str]:
    return sorted(p.stem for p in Path(folder).glob("*.yaml"))


def load_format(name: str, folder: Path = FORMATS_DIR) -> OrderFormat:
    """The format ``name`` (file include/formats/<name>.yaml); ``IngestFileError`` if unknown or invalid."""
    if not _NAME.fullmatch(name or ""):
        raise IngestFileError(None, f"format name {name!r} is not valid (lower-case letters, digits, _)")
    path = Path(folder) / f"{name}.yaml"
    if not path.is_file():
        raise IngestFileError(None, f"unknown format {name!r} (known: {', '.join(known_formats(folder)) or 'none'})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise IngestFileError(path, f"is not valid YAML: {exc}") from None
    try:
        fmt = OrderFormat.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise IngestFileError(path, f"{where}: {first['msg']}", column=where) from None
    if fmt.format != name:
        raise IngestFileError(path, f"format: says {fmt.format!r} but the file is {name}.yaml", column="format")
    return fmt
