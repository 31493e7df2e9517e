"""``dacu data import-peers FILE --sale-id S``: the platform's peer averages (同行同层) into ``peer_benchmarks``.

The merchant downloads the averages of same-industry, same-tier shops from the
platform's data back office. One row per (day, crowd, metric); columns and
accepted spellings are in docs/data-contract.md ("Peer averages"). Like the
other importers: the file is checked before anything is written, bad rows are
quarantined with a reason (``import_rejects`` + a rejects CSV), the whole file
loads in one transaction with its ``import_batches`` row, and a re-import
upserts by (sale_id, day, crowd, metric), so loading the same file twice
changes nothing.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy.engine import Connection, Engine

from dacu.ingest.batches import BatchReport, RejectSink, run_batch
from dacu.ingest.errors import BadValue, IngestFileError
from dacu.ingest.readers import CsvSource, chunked, open_csv
from dacu.ingest.upsert import upsert_rows
from dacu.ingest.validate import Reject
from dacu.metrics.definitions import CROWDS, SNAPSHOT_METRICS, WARMUP_METRICS
from dacu.warehouse.schema import peer_benchmarks

DEFAULT_CHUNK = 5000
# field -> accepted header names (English code first, then the platform's Chinese headers)
HEADERS: dict[str, tuple[str, ...]] = {
    "day": ("day", "日期", "统计日期"),
    "crowd": ("crowd", "人群", "人群类型"),
    "metric": ("metric", "指标", "指标名称"),
    "value": ("value", "同行同层平均值", "同行平均值", "数值", "值"),
}
_VALUE_LIMIT = Decimal("1000000000000")      # Numeric(18, 6)


def _metric_kinds() -> dict[str, str]:
    """Every metric a peer average may be given for, with its kind (rate / count / amount / value)."""
    kinds = {m.name: m.kind for m in SNAPSHOT_METRICS if m.kind != "peer"}
    kinds.update({m.name: m.kind for m in WARMUP_METRICS if m.name not in kinds})
    return kinds


METRIC_KINDS: dict[str, str] = _metric_kinds()
# Chinese labels as the ops team (and the platform's download) writes them -> metric code
METRIC_LABELS: dict[str, str] = {
    **{m.label: m.name for m in WARMUP_METRICS},
    **{m.label: m.name for m in SNAPSHOT_METRICS if m.kind != "peer"},
}
CROWD_LABELS: dict[str, str] = {label: code for code, label in CROWDS.items()}
# rates over visitors that may exceed 1 (a payment without a visit event; docs/metrics.md)
UNBOUNDED_RATES = frozenset({"visit_cart_rate", "visit_deposit_rate", "visit_pay_rate"})


def _header_index(source: CsvSource) -> dict[str, int]:
    index: dict[str, int] = {}
    for field, names in HEADERS.items():
        found = [n for n in names if n in source.index]
        if not found:
            raise IngestFileError(source.path, f"missing required column {field!r} (accepted headers: "
                                  f"{', '.join(names)})", line=1, column=field)
        if len(found) > 1:
            raise IngestFileError(source.path, f"columns {' and '.join(found)} both give {field!r}", line=1,
                                  column=found[1])
        index[field] = source.index[found[0]]
    return index


def _clip(raw: str) -> str:
    return raw if len(raw) <= 40 else raw[:40] + "…"


def parse_day(raw: str) -> date:
    text = raw.strip().replace("/", "-")
    for fmt in ("%Y-%m-%d", "%Y%m%d", "%Y-%m-%d %H:%M:%S"):
        try:
            value = datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if not date(2000, 1, 1) <= value < date(2100, 1, 1):
            raise BadValue("bad_date", f"day {_clip(raw)!r} is outside 2000–2099", "day")
        return value
    raise BadValue("bad_date", f"day {_clip(raw)!r} is not a date like 2026-11-11", "day")


def parse_crowd(raw: str) -> str:
    code = CROWD_LABELS.get(raw, raw)
    if code not in CROWDS:
        raise BadValue("unknown_value", f"crowd {_clip(raw)!r} is not one of "
                       f"{', '.join(f'{c}/{label}' for c, label in CROWDS.items())}", "crowd")
    return code


def parse_metric(raw: str) -> str:
    code = METRIC_LABELS.get(raw, raw)
    if code not in METRIC_KINDS:
        raise BadValue("unknown_value", f"metric {_clip(raw)!r} is not a snapshot or warm-up metric "
                       "(docs/metrics.md lists the codes and Chinese labels)", "metric")
    return code


def parse_value(raw: str, metric: str) -> Decimal:
    """A peer average; rates may be written as percentages ("12.5%"), money with ¥ and thousands commas."""
    text = raw.replace(",", "").lstrip("¥￥").strip()
    percent = text.endswith("%")
    try:
        value = Decimal(text.rstrip("%").strip())
    except InvalidOperation:
        raise BadValue("bad_number", f"value {_clip(raw)!r} is not a number", "value") from None
    if not value.is_finite():
        raise BadValue("bad_number", f"value {_clip(raw)!r} is not a number", "value")
    kind = METRIC_KINDS[metric]
    if percent:
        if kind != "rate":
            raise BadValue("bad_number", f"value {_clip(raw)!r}: a percentage for {metric}, which is not a rate",
                           "value")
        value = value / 100
    if value < 0:
        raise BadValue("negative_amount" if kind in ("amount", "value") else "bad_number",
                       f"value {_clip(raw)} of {metric} is negative", "value")
    if kind == "rate" and value > 1 and metric not in UNBOUNDED_RATES:
        raise BadValue("bad_number", f"value {_clip(raw)} of rate {metric} is above 1 (write 0.125 or 12.5%)",
                       "value")
    if value >= _VALUE_LIMIT:
        raise BadValue("bad_number", f"value {_clip(raw)} is too large", "value")
    return value.quantize(Decimal("0.000001"))


def import_peers(engine: Engine, path: str | Path, *, sale_id: str, now: datetime, encoding: str = "auto",
                 rejects_dir: str | Path | None = None, chunk_size: int = DEFAULT_CHUNK) -> BatchReport:
    """Import one peer-average CSV for ``sale_id``; ``now`` (naive UTC) stamps the batch.

    Raises ``IngestFileError`` (nothing written) when the file cannot be read or lacks a column.
    """
    from dacu.ingest.load_dir import default_rejects_dir

    if not sale_id or not sale_id.strip():
        raise ValueError("sale_id is empty")
    source = open_csv(path, encoding)
    index = _header_index(source)
    report = BatchReport(kind="peers", source=f"{source.path} (sale {sale_id})", table="peer_benchmarks",
                         encoding=source.encoding,
                         ignored_columns=[h for i, h in enumerate(source.header) if i not in index.values()])
    seen: dict[tuple, tuple[Decimal, int]] = {}   # a peer file is small (days x crowds x metrics)

    def load(conn: Connection, sink: RejectSink) -> None:
        for chunk in chunked(source.rows(), chunk_size):
            report.rows_read += len(chunk)
            good, rejects = [], []
            for line, raw in chunk:
                try:
                    rec = _parse_row(raw, index, len(source.header))
                except BadValue as exc:
                    rejects.append(Reject(line, exc.reason, f"line {line}: {exc.detail}", None, raw))
                    continue
                key = (rec["metric_day"], rec["crowd"], rec["metric"])
                label = f"{key[0]}/{key[1]}/{key[2]}"
                prev = seen.get(key)
                if prev is not None:
                    if prev[0] == rec["value"]:
                        report.rows_duplicate += 1
                        report.rows_loaded += 1
                    else:
                        rejects.append(Reject(line, "conflicting_duplicate",
                                              f"line {line}: {label} already read at line {prev[1]} with "
                                              "another value (the first line is loaded)", label, raw))
                    continue
                seen[key] = (rec["value"], line)
                good.append({"sale_id": sale_id, **rec, "import_batch_id": report.batch_id})
            upsert_rows(conn, peer_benchmarks, good, ["sale_id", "metric_day", "crowd", "metric"])
            report.rows_loaded += len(good)
            report.see_times(datetime.combine(r["metric_day"], datetime.min.time()) for r in good)
            sink.add(rejects)

    run_batch(engine, report, now, source.header, Path(rejects_dir or default_rejects_dir()), source.path.stem, load)
    return report


def _parse_row(raw: list[str], index: dict[str, int], width: int) -> dict:
    if len(raw) != width:
        raise BadValue("bad_row", f"{len(raw)} fields, the header has {width}")
    cells = {f: raw[i].strip() for f, i in index.items()}
    for field in ("day", "crowd", "metric", "value"):
        if not cells[field] or cells[field] in ("\\N", "NULL", "null", "-", "--"):
            raise BadValue("missing_field", f"{field} is empty", field)
    metric = parse_metric(cells["metric"])
    return {"metric_day": parse_day(cells["day"]), "crowd": parse_crowd(cells["crowd"]), "metric": metric,
            "value": parse_value(cells["value"], metric)}
