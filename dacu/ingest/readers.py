"""Streaming CSV reading with encoding detection (utf-8, utf-8-sig, gbk/gb18030).

``open_csv`` does every check that can fail a whole file *before* anything is
written: the file exists, is text (not a workbook or binary), decodes, has a
header without duplicates. ``CsvSource.rows()`` then streams records with the
line number each starts on; a decoding or CSV error further down raises
``IngestFileError`` naming the line (the caller's transaction rolls back).
"""
from __future__ import annotations

import codecs
import csv
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from dacu.ingest.errors import IngestFileError

ENCODINGS = ("auto", "utf-8", "utf-8-sig", "gbk", "gb18030")
SAMPLE_BYTES = 1 << 20
_ALIASES = {"utf8": "utf-8", "utf_8": "utf-8", "utf-8-bom": "utf-8-sig", "gb2312": "gbk", "cp936": "gbk"}

# Platform exports carry long free-text columns (addresses, remarks).
csv.field_size_limit(min(sys.maxsize, 1 << 26))


def _line_of(data: bytes, pos: int) -> int:
    return data.count(b"\n", 0, pos) + 1


def _decodes(sample: bytes, encoding: str) -> int | None:
    """None if ``sample`` decodes (a cut multi-byte tail is fine), else the failing byte offset."""
    try:
        codecs.getincrementaldecoder(encoding)(errors="strict").decode(sample, final=False)
        return None
    except UnicodeDecodeError as exc:
        return exc.start


def _bad_line(path: Path, encoding: str) -> int | None:
    """The physical line that fails to decode (newline bytes never occur inside UTF-8/GBK characters)."""
    enc = "utf-8" if encoding == "utf-8-sig" else encoding
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            try:
                raw.decode(enc)
            except UnicodeDecodeError:
                return n
    return None


def detect_encoding(path: Path, sample: bytes, requested: str) -> str:
    requested = _ALIASES.get(requested.lower(), requested.lower())
    if requested not in ENCODINGS:
        raise IngestFileError(path, f"unknown encoding {requested!r} (use one of {', '.join(ENCODINGS)})")
    if requested == "auto":
        if sample.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if _decodes(sample, "utf-8") is None:
            return "utf-8"
        # Excel and 千牛 on Windows write GBK; gb18030 is its superset.
        if _decodes(sample, "gb18030") is None:
            return "gb18030"
        bad = _decodes(sample, "utf-8") or 0
        raise IngestFileError(path, "cannot be decoded as UTF-8 or GBK; save it as UTF-8 CSV",
                              line=_line_of(sample, bad))
    bad = _decodes(sample, requested)
    if bad is not None:
        raise IngestFileError(path, f"cannot be decoded as {requested}", line=_line_of(sample, bad))
    return requested


@dataclass
class CsvSource:
    path: Path
    encoding: str
    header: list[str]
    index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {name: i for i, name in enumerate(self.header)}

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Yield ``(line_no, fields)`` per record after the header; blank lines are skipped."""
        with self.path.open("r", encoding=self.encoding, newline="") as fh:
            reader = csv.reader(fh)
            last = 0
            try:
                next(reader)
                last = reader.line_num
                for row in reader:
                    start, last = last + 1, reader.line_num
                    if not row or (len(row) == 1 and not row[0].strip()):
                        continue
                    yield start, row
            except UnicodeDecodeError:
                line = _bad_line(self.path, self.encoding) or last + 1
                raise IngestFileError(self.path, f"cannot be decoded as {self.encoding}", line=line) from None
            except csv.Error as exc:
                raise IngestFileError(self.path, f"is not valid CSV: {exc}", line=last + 1) from None


def open_csv(path: str | Path, encoding: str = "auto") -> CsvSource:
    """Check that ``path`` is a readable CSV file and read its header (nothing else)."""
    path = Path(path)
    if not path.exists():
        raise IngestFileError(path, "file not found")
    if not path.is_file():
        raise IngestFileError(path, "is not a file")
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
        # The sample must hold the whole header line.
        while b"\n" not in sample and len(sample) < (1 << 24):
            more = fh.read(SAMPLE_BYTES)
            if not more:
                break
            sample += more
    if not sample.strip():
        raise IngestFileError(path, "is empty (expected a CSV header line)")
    if sample.startswith(b"PK\x03\x04") or sample.startswith(b"\xd0\xcf\x11\xe0"):
        raise IngestFileError(path, "is an Excel workbook, not CSV; export it as CSV")
    if b"\x00" in sample[:8192]:
        raise IngestFileError(path, "is binary (NUL bytes), not CSV (UTF-16 exports must be saved as UTF-8)")
    enc = detect_encoding(path, sample, encoding)
    # The header comes from the already-checked sample, so a bad byte further down
    # surfaces while streaming, with its line number.
    text = codecs.getincrementaldecoder(enc)(errors="strict").decode(sample, final=False)
    try:
        header = next(csv.reader(io.StringIO(text, newline="")), None)
    except csv.Error as exc:
        raise IngestFileError(path, f"header line cannot be read: {exc}", line=1) from None
    if not header:
        raise IngestFileError(path, "has no header line", line=1)
    header = [h.replace("\ufeff", "").strip() for h in header]
    if len(header) == 1 and "\t" in header[0]:
        raise IngestFileError(path, "is tab-separated; expected comma-separated CSV", line=1)
    if any(not h for h in header):
        pos = next(i for i, h in enumerate(header) if not h) + 1
        raise IngestFileError(path, f"header column {pos} is empty", line=1)
    seen: set[str] = set()
    for h in header:
        if h in seen:
            raise IngestFileError(path, f"header names column {h!r} twice", line=1, column=h)
        seen.add(h)
    return CsvSource(path=path, encoding=enc, header=header)


def require_columns(source: CsvSource, required: tuple[str, ...] | list[str]) -> None:
    missing = [c for c in required if c not in source.index]
    if missing:
        raise IngestFileError(source.path, f"missing required column(s): {', '.join(missing)}", line=1,
                              column=missing[0])


def chunked(items: Iterator, size: int) -> Iterator[list]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch
