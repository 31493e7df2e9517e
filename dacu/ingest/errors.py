"""Errors of the importers.

``IngestFileError`` is fatal: the file cannot be read at all, nothing is
written. ``BadValue`` is per row: the row is quarantined with a reason code.
"""
from __future__ import annotations

from pathlib import Path


class IngestFileError(Exception):
    """A file that cannot be loaded at all (missing, not CSV, undecodable, bad header, unknown format)."""

    def __init__(self, path: str | Path | None, message: str, *, line: int | None = None,
                 column: str | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.column = column
        self.message = message
        where = self.path or ""
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}" if where else message)


class BadValue(Exception):
    """One row cannot be loaded; ``reason`` is the machine code stored in import_rejects."""

    def __init__(self, reason: str, detail: str, column: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.column = column
