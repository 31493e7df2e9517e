"""``dacu data import-orders FILE --format NAME``: a platform's order export (Chinese headers).

The export has one row per order line with the order columns repeated; the rows
of one order are adjacent. Each order is taken or quarantined as a whole (a bad
line rejects its siblings with ``order_rejected``), then upserted by order id with
its lines replacing the stored ones. Mappings of headers and status texts come
from include/formats/<name>.yaml only.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.engine import Connection, Engine

from dacu.ingest.batches import BatchReport, RejectSink, run_batch
from dacu.ingest.errors import BadValue, IngestFileError
from dacu.ingest.formats import ITEM_FIELDS, OrderFormat, load_format
from dacu.ingest.ledger import DuplicateLedger
from dacu.ingest.load_dir import DEFAULT_CHUNK, default_rejects_dir
from dacu.ingest.lookups import column_by_key, existing_keys
from dacu.ingest.readers import CsvSource, open_csv
from dacu.ingest.upsert import insert_first_seen, upsert_rows
from dacu.ingest.validate import Reject, digest
from dacu.ingest.values import LocalTimeParser, get_zone, parse_int, parse_money, parse_text
from dacu.warehouse.schema import order_items, orders

_ORDER_ID_LEN = orders.c.order_id.type.length
_CUSTOMER_ID_LEN = orders.c.customer_id.type.length
_SKU_LEN = order_items.c.sku_id.type.length


@dataclass
class OrderGroup:
    """The adjacent rows of one order, parsed (or the rejects of all its rows)."""

    order_id: str
    lines: list[tuple[int, list[str]]]
    order: dict | None = None
    items: list[dict] | None = None
    rejects: list[Reject] | None = None

    def reject_all(self, reason: str, detail: str) -> None:
        self.rejects = [Reject(line, reason, detail, self.order_id, raw) for line, raw in self.lines]


class ExportParser:
    """Reads warehouse fields out of export rows through the format's header mapping."""

    def __init__(self, fmt: OrderFormat, source: CsvSource, times: LocalTimeParser) -> None:
        self.fmt = fmt
        self.times = times
        self.width = len(source.header)
        self.nulls = frozenset(fmt.null_values)
        self.pos = {f: [source.index[h] for h in hs if h in source.index] for f, hs in fmt.columns.items()}
        self.label = {f: next((h for h in hs if h in source.index), hs[0]) for f, hs in fmt.columns.items()}
        item_pos = {p for f in ITEM_FIELDS for p in self.pos.get(f, [])}
        # Order-level cells must agree on every line of the order.
        self.order_positions = sorted({p for f, ps in self.pos.items() if f not in ITEM_FIELDS for p in ps}
                                      - item_pos)
        self.header = source.header

    def clean(self, cell: str) -> str:
        cell = cell.strip()
        if self.fmt.excel_text_prefix and cell:
            if cell.startswith('="') and cell.endswith('"'):
                cell = cell[2:-1].strip()
            elif cell[0] in "'\t":
                cell = cell[1:].strip()
        return "" if cell in self.nulls else cell

    def cell(self, raw: list[str], field: str, *, zero_falls_through: bool = False) -> str:
        positions = self.pos.get(field, ())
        for i, p in enumerate(positions):
            value = self.clean(raw[p]) if p < len(raw) else ""
            if not value:
                continue
            if zero_falls_through and i < len(positions) - 1 and _is_zero(value):
                continue
            return value
        return ""

    def order_id(self, raw: list[str]) -> str:
        return self.cell(raw, "order_id")

    def _required(self, raw: list[str], field: str, **kw) -> str:
        value = self.cell(raw, field, **kw)
        if not value:
            raise BadValue("missing_field", f"{self.label[field]} is empty", self.label[field])
        return value

    def _time(self, raw: list[str], field: str) -> datetime | None:
        value = self.cell(raw, field)
        return self.times(value, self.label[field]) if value else None

    def _money(self, raw: list[str], field: str, **kw) -> object:
        value = self.cell(raw, field, **kw)
        return parse_money(value, self.label[field]) if value else None

    def _mapped(self, raw: list[str], field: str, mapping: dict[str, str], reason: str) -> str | None:
        value = self.cell(raw, field)
        if not value:
            return None
        if value not in mapping:
            shown = value if len(value) <= 40 else value[:40] + "…"
            raise BadValue(reason, f"{self.label[field]} {shown!r} is not in format {self.fmt.format}",
                           self.label[field])
        return mapping[value]

    def order(self, raw: list[str]) -> dict:
        fmt = self.fmt
        order_id = parse_text(self._required(raw, "order_id"), self.label["order_id"], _ORDER_ID_LEN)
        customer_id = parse_text(self._required(raw, "customer_id"), self.label["customer_id"], _CUSTOMER_ID_LEN)
        status_text = self._required(raw, "status")
        status = self._mapped(raw, "status", fmt.statuses, "unknown_status")
        source = self._mapped(raw, "order_type", fmt.order_types, "unknown_source") or "normal"
        flag = self._mapped(raw, "seller_flag", fmt.seller_flags, "unknown_value")
        created_at = self.times(self._required(raw, "created_at"), self.label["created_at"])
        paid_at = self._time(raw, "paid_at")
        closed_at = self._time(raw, "closed_at")
        refunded_at = self._time(raw, "refunded_at")
        amount = parse_money(self._required(raw, "amount", zero_falls_through=True), self.label["amount"])
        deposit = self._money(raw, "deposit_amount")
        deposit_paid_at = self._time(raw, "deposit_paid_at")
        balance = self._money(raw, "balance_amount")
        balance_paid_at = self._time(raw, "balance_paid_at")

        if status == "closed" and self.cell(raw, "close_reason") in fmt.refund_close_reasons:
            status, refunded_at = "refunded", refunded_at or closed_at
        is_presale = source == "presale" or status == "deposit_paid" or deposit is not None
        if is_presale:
            if status == "deposit_paid":
                # Until the balance is paid, the export's payment time is the deposit's; the
                # warehouse's paid_at is the full (balance) payment.
                deposit_paid_at, paid_at = deposit_paid_at or paid_at, None
            elif balance_paid_at is not None:
                paid_at = balance_paid_at
            if deposit is not None and balance is not None:
                amount = deposit + balance
        if status == "paid" and paid_at is None:
            raise BadValue("missing_field", f"{self.label.get('paid_at', 'paid_at')} is empty for a paid order "
                           f"({status_text})", self.label.get("paid_at"))
        if status == "deposit_paid" and deposit_paid_at is None:
            raise BadValue("missing_field", f"deposit payment time is empty for {status_text}", "deposit_paid_at")
        for name, value in (("paid_at", paid_at), ("deposit_paid_at", deposit_paid_at)):
            if value is not None and value < created_at:
                raise BadValue("bad_date", f"{self.label.get(name, name)} is before {self.label['created_at']}", name)
        return {
            "order_id": order_id, "customer_id": customer_id, "platform": fmt.platform, "status": status,
            "source": source, "seller_flag": flag, "created_at": created_at, "paid_at": paid_at,
            "closed_at": closed_at, "refunded_at": refunded_at, "amount": amount, "is_presale": is_presale,
            "deposit_amount": deposit, "deposit_paid_at": deposit_paid_at, "balance_amount": balance,
            "balance_paid_at": balance_paid_at,
        }

    def item(self, raw: list[str]) -> dict:
        sku = parse_text(self._required(raw, "sku_id"), self.label["sku_id"], _SKU_LEN)
        price = parse_money(self._required(raw, "price"), self.label["price"])
        quantity = parse_int(self._required(raw, "quantity"), self.label["quantity"], 1)
        return {"sku_id": sku, "price": price, "quantity": quantity}

    def order_cells(self, raw: list[str]) -> tuple[str, ...]:
        return tuple(self.clean(raw[p]) if p < len(raw) else "" for p in self.order_positions)


def _is_zero(value: str) -> bool:
    try:
        return float(value.replace(",", "").lstrip("¥￥")) == 0.0
    except ValueError:
        return False


def parse_group(parser: ExportParser, group: OrderGroup) -> OrderGroup:
    """Parse all lines of one order; on any failure every line of it is rejected."""
    failures: list[Reject] = []
    first_line, first_raw = group.lines[0]
    order = None
    items = []
    first_cells = parser.order_cells(first_raw) if len(first_raw) == parser.width else None
    for n, (line, raw) in enumerate(group.lines, start=1):
        try:
            if len(raw) != parser.width:
                raise BadValue("bad_row", f"line has {len(raw)} fields, header has {parser.width}")
            if n == 1:
                order = parser.order(raw)
            elif first_cells is not None and parser.order_cells(raw) != first_cells:
                diff = [parser.header[p] for p, a, b in zip(parser.order_positions, parser.order_cells(raw),
                                                            first_cells) if a != b]
                raise BadValue("conflicting_duplicate",
                               f"order {group.order_id!r}: {', '.join(diff)} differ from line {first_line}")
            items.append({"order_id": group.order_id, "line_no": n, **parser.item(raw)})
        except BadValue as exc:
            failures.append(Reject(line, exc.reason, exc.detail, group.order_id or None, raw))
    if failures:
        failed = {r.line_no for r in failures}
        first = failures[0]
        group.rejects = failures + [
            Reject(line, "order_rejected", f"order {group.order_id!r} rejected: line {first.line_no} {first.reason}",
                   group.order_id, raw)
            for line, raw in group.lines if line not in failed]
        group.rejects.sort(key=lambda r: r.line_no)
        return group
    group.order, group.items = order, items
    return group


def iter_groups(parser: ExportParser, rows: Iterator[tuple[int, list[str]]]) -> Iterator[OrderGroup]:
    """Adjacent rows with the same order id form one group; a row without an id is its own group."""
    current: OrderGroup | None = None
    for line, raw in rows:
        oid = parser.order_id(raw)
        if current is not None and oid and oid == current.order_id:
            current.lines.append((line, raw))
            continue
        if current is not None:
            yield current
        current = OrderGroup(order_id=oid, lines=[(line, raw)])
    if current is not None:
        yield current


def _chunks_of_groups(groups: Iterator[OrderGroup], size: int) -> Iterator[list[OrderGroup]]:
    chunk: list[OrderGroup] = []
    lines = 0
    for g in groups:
        chunk.append(g)
        lines += len(g.lines)
        if lines >= size:
            yield chunk
            chunk, lines = [], 0
    if chunk:
        yield chunk


def import_orders(engine: Engine, path: str | Path, *, format_name: str, now: datetime,
                  create_customers: bool = False, timezone: str | None = None, encoding: str | None = None,
                  rejects_dir: str | Path | None = None, chunk_size: int = DEFAULT_CHUNK) -> BatchReport:
    """Import one platform order export in one transaction; returns the batch report.

    ``now`` (naive UTC) stamps the batch and changed rows. Raises ``IngestFileError``
    (nothing written) for an unknown format or an unreadable file.
    """
    fmt = load_format(format_name)
    zone = get_zone(timezone or fmt.timezone)
    source = open_csv(path, encoding or fmt.encoding)
    for field, headers in fmt.required_headers():
        if not any(h in source.index for h in headers):
            raise IngestFileError(source.path, f"missing required column {' / '.join(headers)} "
                                  f"(format {fmt.format}: {field})", line=1, column=headers[0])
    mapped = {h for hs in fmt.columns.values() for h in hs}
    report = BatchReport(kind="orders_export", source=f"{source.path} (format {fmt.format})", table="orders",
                         encoding=source.encoding,
                         ignored_columns=[h for h in source.header if h not in mapped])
    parser = ExportParser(fmt, source, LocalTimeParser(zone, fmt.time_formats))
    def load(conn: Connection, sink: RejectSink) -> None:
        with DuplicateLedger() as ledger:
            for chunk in _chunks_of_groups(iter_groups(parser, source.rows()), chunk_size):
                _import_chunk(conn, parser, ledger, sink, report, chunk, now, create_customers)

    run_batch(engine, report, now, source.header, Path(rejects_dir or default_rejects_dir()), source.path.stem, load)
    return report


def _import_chunk(conn: Connection, parser: ExportParser, ledger: DuplicateLedger, sink: RejectSink,
                  report: BatchReport, chunk: list[OrderGroup], now: datetime, create_customers: bool) -> None:
    rejects: list[Reject] = []
    good: list[OrderGroup] = []
    for g in chunk:
        report.rows_read += len(g.lines)
        if not g.order_id:
            line, raw = g.lines[0]
            rejects.append(Reject(line, "missing_field", f"{parser.label['order_id']} is empty", None, raw))
            continue
        parse_group(parser, g)
        if g.rejects:
            rejects.extend(g.rejects)
        else:
            good.append(g)

    good = _resolve_customers(conn, parser, report, good, rejects, now, create_customers)

    # Duplicates: the same order again later in the file (not adjacent).
    keyed = [(g, digest((tuple(g.order.values()), tuple(tuple(i.values()) for i in g.items)))) for g in good]
    earlier = ledger.lookup({g.order_id for g, _ in keyed})
    seen: dict[str, tuple[bytes, int]] = {}
    fresh: list[OrderGroup] = []
    entries = []
    for g, dig in keyed:
        prev = seen.get(g.order_id) or earlier.get(g.order_id)
        if prev is not None:
            if prev[0] == dig:
                report.rows_duplicate += len(g.lines)
                report.rows_loaded += len(g.lines)
            else:
                g.reject_all("conflicting_duplicate", f"order {g.order_id!r} already read at line {prev[1]} "
                             "with different data (the first is loaded)")
                rejects.extend(g.rejects)
            continue
        seen[g.order_id] = (dig, g.lines[0][0])
        entries.append((g.order_id, dig, g.lines[0][0]))
        fresh.append(g)
    ledger.add(entries)

    categories = column_by_key(conn, "skus", "sku_id", "category", {i["sku_id"] for g in fresh for i in g.items})
    order_rows, item_rows = [], []
    for g in fresh:
        order_rows.append({**g.order, "import_batch_id": report.batch_id, "updated_at": now})
        for item in g.items:
            item_rows.append({**item, "category": categories.get(item["sku_id"], parser.fmt.unknown_category)})
        report.see_times(g.order[c] for c in ("created_at", "paid_at", "closed_at", "refunded_at",
                                              "deposit_paid_at", "balance_paid_at"))
        report.rows_loaded += len(g.lines)
    upsert_rows(conn, orders, order_rows, ("order_id",))
    # The export's lines of an order replace its stored lines.
    ids = [g.order_id for g in fresh]
    for i in range(0, len(ids), 2000):
        conn.execute(delete(order_items).where(order_items.c.order_id.in_(ids[i:i + 2000])))
    if item_rows:
        conn.execute(order_items.insert(), item_rows)
    rejects.sort(key=lambda r: r.line_no)
    sink.add(rejects)


def _resolve_customers(conn: Connection, parser: ExportParser, report: BatchReport, good: list[OrderGroup],
                       rejects: list[Reject], now: datetime, create_customers: bool) -> list[OrderGroup]:
    wanted = {g.order["customer_id"] for g in good}
    known = existing_keys(conn, "customers", "customer_id", wanted)
    if create_customers:
        first: dict[str, datetime] = {}
        for g in good:
            cid, t = g.order["customer_id"], g.order["created_at"]
            if cid not in first or t < first[cid]:
                first[cid] = t
        # Minimal rows: the export's buyer id as id and nick, first seen = earliest order.
        # Receiver name/phone/address are the delivery contact, not the buyer's consent: never stored.
        rows = [{"customer_id": cid, "nick": cid, "first_seen_at": t, "import_batch_id": report.batch_id,
                 "updated_at": now} for cid, t in first.items()]
        insert_first_seen(conn, rows)
        report.customers_created += len(wanted - known)
        return good
    kept = []
    label = parser.label["customer_id"]
    for g in good:
        if g.order["customer_id"] in known:
            kept.append(g)
        else:
            g.reject_all("unknown_customer", f"{label} {g.order['customer_id']!r} is not in customers "
                         "(use --create-customers to add buyers from the export)")
            rejects.extend(g.rejects)
    return kept
