"""``dacu data load DIR``: one CSV file per warehouse table, loaded in dependency order.

Every file is checked (exists, decodes, header has the required columns) before
anything is written. Each file then loads in one transaction with its batch row:
a fatal error mid-file rolls the whole file back. Bad rows are quarantined with a
reason code; good rows are upserted by id in chunks so memory stays flat.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.engine import Connection, Engine

from dacu.ingest.batches import BatchReport, RejectSink, run_batch
from dacu.ingest.contract import CONTRACTS, LOAD_ORDER, TableContract
from dacu.ingest.errors import BadValue, IngestFileError
from dacu.ingest.ledger import DuplicateLedger
from dacu.ingest.lookups import existing_keys
from dacu.ingest.readers import CsvSource, chunked, open_csv, require_columns
from dacu.ingest.upsert import upsert_rows
from dacu.ingest.validate import Reject, RowValidator, digest
from dacu.ingest.values import LocalTimeParser, get_zone
from dacu.paths import dacu_home
from dacu.warehouse.schema import TABLES

DEFAULT_CHUNK = 5000
DEFAULT_TIMEZONE = "Asia/Shanghai"


def default_rejects_dir() -> Path:
    return dacu_home() / "rejects"


@dataclass
class DirPlan:
    folder: Path
    files: list[tuple[TableContract, CsvSource]]
    ignored_files: list[str] = field(default_factory=list)


def plan_dir(folder: str | Path, encoding: str = "auto") -> DirPlan:
    """Find and pre-check the table files of ``folder``; raises ``IngestFileError`` before any write."""
    folder = Path(folder)
    if not folder.is_dir():
        raise IngestFileError(folder, "is not a folder" if folder.exists() else "folder not found")
    known = {CONTRACTS[t].file_name: CONTRACTS[t] for t in LOAD_ORDER}
    present = {p.name: p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv"}
    files = []
    for table in LOAD_ORDER:
        contract = CONTRACTS[table]
        path = present.get(contract.file_name)
        if path is None:
            continue
        source = open_csv(path, encoding)
        require_columns(source, contract.required_columns)
        files.append((contract, source))
    if not files:
        raise IngestFileError(folder, "has none of the table files " + ", ".join(known))
    ignored = sorted(name for name in present if name not in known)
    return DirPlan(folder=folder, files=files, ignored_files=ignored)


def load_dir(engine: Engine, folder: str | Path, *, now: datetime, timezone: str = DEFAULT_TIMEZONE,
             encoding: str = "auto", rejects_dir: str | Path | None = None,
             chunk_size: int = DEFAULT_CHUNK) -> tuple[list[BatchReport], DirPlan]:
    """Load every table file of ``folder``. ``now`` (naive UTC) stamps batches and changed rows.

    If a file fails mid-way, it is rolled back, the files before it stay loaded, and the
    ``IngestFileError`` carries ``completed`` (their reports).
    """
    zone = get_zone(timezone)
    plan = plan_dir(folder, encoding)
    reports: list[BatchReport] = []
    for contract, source in plan.files:
        try:
            reports.append(load_table_file(engine, contract, source, now=now, zone=zone,
                                           rejects_dir=Path(rejects_dir or default_rejects_dir()),
                                           chunk_size=chunk_size))
        except IngestFileError as exc:
            exc.completed = reports
            raise
    return reports, plan


def load_table_file(engine: Engine, contract: TableContract, source: CsvSource, *, now: datetime, zone,
                    rejects_dir: Path, chunk_size: int = DEFAULT_CHUNK) -> BatchReport:
    """Load one checked table file in one transaction and return its batch report."""
    require_columns(source, contract.required_columns)
    known = set(contract.column_names)
    report = BatchReport(kind="csv_load", source=str(source.path), table=contract.table,
                         encoding=source.encoding, ignored_columns=[h for h in source.header if h not in known])
    validator = RowValidator(contract, source.index, LocalTimeParser(zone))
    def load(conn: Connection, sink: RejectSink) -> None:
        with DuplicateLedger() as ledger:
            for chunk in chunked(source.rows(), chunk_size):
                report.rows_read += len(chunk)
                _load_chunk(conn, contract, validator, ledger, sink, report, chunk, now)

    run_batch(engine, report, now, source.header, rejects_dir, source.path.stem, load)
    return report


def _load_chunk(conn: Connection, contract: TableContract, validator: RowValidator, ledger: DuplicateLedger,
                sink: RejectSink, report: BatchReport, chunk: list[tuple[int, list[str]]], now: datetime) -> None:
    rejects: list[Reject] = []
    good: list[tuple[int, list[str], dict]] = []
    for line, raw in chunk:
        try:
            good.append((line, raw, validator.parse(raw)))
        except BadValue as exc:
            rejects.append(Reject(line, exc.reason, exc.detail, validator.record_key(raw), raw))

    for ref in contract.references:
        wanted = {rec[ref.column] for _, _, rec in good if rec[ref.column] is not None}
        if not wanted:
            continue
        known = existing_keys(conn, ref.table, ref.key, wanted)
        kept = []
        for line, raw, rec in good:
            value = rec[ref.column]
            if value is not None and value not in known:
                rejects.append(Reject(line, ref.reason, f"{ref.column} {value!r} is not in {ref.table}",
                                      validator.record_key(raw), raw))
            else:
                kept.append((line, raw, rec))
        good = kept

    fresh = _drop_duplicates(contract, ledger, report, good, rejects)

    if contract.replace_by:
        # The file's lines of a parent replace all its stored lines (first time the parent shows up).
        parents = ledger.new_parents(rec[contract.replace_by] for rec in fresh)
        table = TABLES[contract.table]
        col = table.c[contract.replace_by]
        for i in range(0, len(parents), 2000):
            conn.execute(delete(table).where(col.in_(parents[i:i + 2000])))

    for rec in fresh:
        if contract.stamped:
            rec["import_batch_id"] = report.batch_id
        if contract.has_updated_at:
            rec["updated_at"] = now
        report.see_times(rec[c] for c in contract.period_columns)
    upsert_rows(conn, TABLES[contract.table], fresh, contract.key)
    report.rows_loaded += len(fresh)
    rejects.sort(key=lambda r: r.line_no)
    sink.add(rejects)


def _drop_duplicates(contract: TableContract, ledger: DuplicateLedger, report: BatchReport,
                     good: list[tuple[int, list[str], dict]], rejects: list[Reject]) -> list[dict]:
    """Keep the first line of each key; identical repeats are counted, differing ones rejected."""
    keyed = []
    for line, raw, rec in good:
        key = "|".join(str(rec[k]) for k in contract.key)
        keyed.append((key, digest(tuple(rec.values())), line, raw, rec))
    earlier = ledger.lookup({k for k, *_ in keyed})
    seen: dict[str, tuple[bytes, int]] = {}
    fresh: list[dict] = []
    entries = []
    for key, dig, line, raw, rec in keyed:
        prev = seen.get(key) or earlier.get(key)
        if prev is not None:
            if prev[0] == dig:
                report.rows_duplicate += 1
                report.rows_loaded += 1
            else:
                rejects.append(Reject(line, "conflicting_duplicate",
                                      f"{'/'.join(contract.key)} {key!r} already read at line {prev[1]} "
                                      "with different data (the first line is loaded)", key, raw))
            continue
        seen[key] = (dig, line)
        entries.append((key, dig, line))
        fresh.append(rec)
    ledger.add(entries)
    return fresh
