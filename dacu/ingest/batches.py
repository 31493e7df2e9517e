"""Import bookkeeping: one ``import_batches`` row per file, its rejects in
``import_rejects`` (detail PII-masked) and in a rejects CSV (original row +
line number + reason, for the data team to fix and re-load).

Everything here runs inside the file's transaction; the rejects CSV is written
under a temporary name and only gets its final name when the load succeeds.
"""
from __future__ import annotations

import csv
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.engine import Connection, Engine

from dacu.ingest.validate import Reject
from dacu.pii import scrub
from dacu.warehouse.schema import import_batches, import_rejects

REJECT_COLUMNS = ("_reject_line", "_reject_reason", "_reject_detail")


@dataclass
class BatchReport:
    kind: str                       # csv_load | orders_export
    source: str                     # the file (and format)
    table: str
    batch_id: int | None = None
    encoding: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0            # includes identical duplicates (their data is loaded once)
    rows_rejected: int = 0
    rows_duplicate: int = 0         # identical repeats of an earlier line
    period_start: datetime | None = None
    period_end: datetime | None = None
    rejects_file: str | None = None
    status: str = "running"
    reasons: dict[str, int] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    customers_created: int = 0
    seconds: float = 0.0

    def see_times(self, times) -> None:
        for t in times:
            if t is None:
                continue
            if self.period_start is None or t < self.period_start:
                self.period_start = t
            if self.period_end is None or t > self.period_end:
                self.period_end = t

    def to_dict(self) -> dict:
        out = asdict(self)
        for k in ("period_start", "period_end"):
            out[k] = out[k].isoformat(sep=" ") if out[k] else None
        out["seconds"] = round(self.seconds, 3)
        return out


def start_batch(conn: Connection, report: BatchReport, started_at: datetime) -> int:
    result = conn.execute(import_batches.insert().values(
        kind=report.kind, source=report.source, started_at=started_at, status="running",
        rows_read=0, rows_loaded=0, rows_rejected=0,
    ))
    report.batch_id = int(result.inserted_primary_key[0])
    return report.batch_id


def finish_batch(conn: Connection, report: BatchReport, finished_at: datetime) -> None:
    report.status = "done"
    conn.execute(update(import_batches).where(import_batches.c.batch_id == report.batch_id).values(
        finished_at=finished_at, period_start=report.period_start, period_end=report.period_end,
        rows_read=report.rows_read, rows_loaded=report.rows_loaded, rows_rejected=report.rows_rejected,
        rejects_file=report.rejects_file, status=report.status,
    ))


class RejectSink:
    """Collects a file's rejects: table rows per chunk, CSV lines streamed to a temp file."""

    def __init__(self, conn: Connection, report: BatchReport, header: list[str], rejects_dir: Path,
                 stem: str) -> None:
        self.conn = conn
        self.report = report
        self.header = header
        self.final_path = Path(rejects_dir) / f"{stem}.batch{report.batch_id}.rejects.csv"
        self.tmp_path = self.final_path.with_name("." + self.final_path.name + ".part")
        self._fh = None
        self._writer = None

    def _open(self) -> None:
        self.final_path.parent.mkdir(parents=True, exist_ok=True)
        # The original rows carry PII: readable by the owner only.
        fd = os.open(self.tmp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._fh = os.fdopen(fd, "w", encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._fh)
        self._writer.writerow([*self.header, *REJECT_COLUMNS])

    def add(self, rejects: list[Reject]) -> None:
        if not rejects:
            return
        if self._writer is None:
            self._open()
        rows = []
        for r in rejects:
            detail = r.masked_detail()
            self._writer.writerow([*r.raw, r.line_no, r.reason, detail])
            rows.append({
                "batch_id": self.report.batch_id, "table_name": self.report.table, "line_no": r.line_no,
                "record_key": scrub(r.record_key)[:128] if r.record_key else None,
                "reason": r.reason, "detail": detail, "resolved": False,
            })
            self.report.reasons[r.reason] = self.report.reasons.get(r.reason, 0) + 1
        self.report.rows_rejected += len(rejects)
        self.conn.execute(import_rejects.insert(), rows)

    def finalize(self) -> str | None:
        """Give the rejects CSV its final name (None when nothing was rejected)."""
        if self._fh is None:
            return None
        self._fh.close()
        os.replace(self.tmp_path, self.final_path)
        return str(self.final_path)

    def discard(self) -> None:
        if self._fh is not None and not self._fh.closed:
            self._fh.close()
        for p in (self.tmp_path, self.final_path):
            if self._fh is not None and p.exists():
                p.unlink()


def run_batch(engine: Engine, report: BatchReport, now: datetime, header: list[str], rejects_dir: Path, stem: str,
              load: Callable[[Connection, RejectSink], None]) -> BatchReport:
    """One file, one transaction: the batch row, ``load(conn, sink)`` (the importer's chunk loop), the
    rejects file and the finished batch row commit together; on any error nothing is kept (the rejects
    file is discarded too) and the report says failed."""
    started = time.monotonic()
    with engine.connect() as conn:
        trans = conn.begin()
        sink: RejectSink | None = None
        try:
            start_batch(conn, report, now)
            sink = RejectSink(conn, report, header, rejects_dir, stem)
            load(conn, sink)
            report.rejects_file = sink.finalize()
            report.seconds = time.monotonic() - started
            finish_batch(conn, report, now + timedelta(seconds=report.seconds))
            trans.commit()
        except BaseException:
            if trans.is_active:
                trans.rollback()
            if sink is not None:
                sink.discard()
            report.status = "failed"
            raise
    return report
