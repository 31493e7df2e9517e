"""Great Expectations 1.24 gate for metric frames (see /work/shared/GX1_NOTES.md).

Suites are plain JSON in ``expectations/``; each expectation carries a unique
``meta.name`` so failures read as names, not GX internals. One ephemeral
context per validation (no thread-safety promise), progress bars and log noise
off. The gate is ``get_max_severity_failure()``: a ``warning``-severity failure
is reported but does not block publishing; a ``critical`` one does.
GX is imported on first use (about 2 s), never at module import.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from dacu.paths import EXPECTATIONS_DIR
from dacu.pii import scrub

_MAX_ROWS_LISTED = 20


class SuiteError(ValueError):
    """A suite file that cannot be used as written (names the file)."""


@dataclass(frozen=True)
class ExpectationFailure:
    suite: str
    name: str                    # meta.name from the suite file
    expectation_type: str
    severity: str                # critical | warning | info
    rows: tuple[str, ...] = ()   # offending rows by key (e.g. crowd names), not customer data
    detail: str = ""             # observed value or exception message

    def as_dict(self) -> dict:
        return {"suite": self.suite, "name": self.name, "type": self.expectation_type,
                "severity": self.severity, "rows": list(self.rows), "detail": self.detail}


@dataclass
class ValidationOutcome:
    """What a validation decided. ``success`` is the publishing gate (no critical failure)."""
    success: bool
    evaluated: int
    failures: list[ExpectationFailure] = field(default_factory=list)
    suites: list[str] = field(default_factory=list)

    @property
    def blocking(self) -> list[ExpectationFailure]:
        return [f for f in self.failures if f.severity == "critical"]

    @property
    def warnings(self) -> list[ExpectationFailure]:
        return [f for f in self.failures if f.severity != "critical"]

    @property
    def failed_names(self) -> list[str]:
        return [f.name for f in self.blocking]

    @property
    def warning_names(self) -> list[str]:
        return [f.name for f in self.warnings]

    def merge(self, other: "ValidationOutcome") -> "ValidationOutcome":
        return ValidationOutcome(self.success and other.success, self.evaluated + other.evaluated,
                                 self.failures + other.failures, self.suites + other.suites)

    def failures_json(self) -> str:
        return json.dumps([f.as_dict() for f in self.failures], ensure_ascii=False, sort_keys=True)


@lru_cache(maxsize=1)
def _gx():
    # Silence GX before and after import: INFO noise under Airflow, one logger forced to INFO.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx  # noqa: PLC0415 - 2 s import, only when validating
    from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: PLC0415

    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    return gx, ProgressBarsConfig


def suite_path(name_or_path: str | Path) -> Path:
    """``daily_snapshot`` -> ``expectations/daily_snapshot.json``; a path is taken as is."""
    p = Path(name_or_path)
    if p.suffix == ".json" or p.is_absolute():
        return p
    return EXPECTATIONS_DIR / f"{name_or_path}.json"


def read_suite_json(path: Path) -> dict:
    """The suite file's JSON, with the checks GX does not do: names present and unique."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SuiteError(f"{path}: suite file not found") from None
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}:{exc.lineno} invalid JSON: {exc.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("expectations"), list) or not data.get("name"):
        raise SuiteError(f"{path}: expected an object with 'name' and a list 'expectations'")
    seen: set[str] = set()
    for i, exp in enumerate(data["expectations"]):
        name = (exp.get("meta") or {}).get("name") if isinstance(exp, dict) else None
        if not name:
            raise SuiteError(f"{path}: expectations[{i}] has no meta.name")
        if name in seen:
            raise SuiteError(f"{path}: expectations[{i}] meta.name {name!r} is used twice")
        seen.add(name)
    return data


def load_suite(path: Path):
    """A ``gx.ExpectationSuite`` from JSON; refuses a file GX would silently shorten."""
    gx, _ = _gx()
    data = read_suite_json(path)
    try:
        suite = gx.ExpectationSuite(**data)
    except Exception as exc:  # a misspelt argument raises inside GX
        raise SuiteError(f"{path}: {exc.__class__.__name__}: {scrub(str(exc))}") from None
    if len(suite.expectations) != len(data["expectations"]):
        known = {(e.meta or {}).get("name") for e in suite.expectations}
        dropped = [e["meta"]["name"] for e in data["expectations"] if e["meta"]["name"] not in known]
        raise SuiteError(f"{path}: unknown expectation type(s) dropped by GX: {', '.join(dropped)}")
    return suite


def _row_keys(result: dict, index_columns: Sequence[str]) -> tuple[str, ...]:
    keys = []
    for item in result.get("unexpected_index_list") or []:
        if isinstance(item, dict):
            keys.append("/".join(str(item.get(c)) for c in index_columns))
    return tuple(dict.fromkeys(keys))[:_MAX_ROWS_LISTED]


def _detail(res: Any) -> str:
    info = getattr(res, "exception_info", None) or {}
    if info.get("raised_exception"):
        return scrub(str(info.get("exception_message", "")))[:300]
    if "observed_value" in (res.result or {}):
        return f"observed {res.result['observed_value']}"
    count = (res.result or {}).get("unexpected_count")
    return f"{count} unexpected" if count else ""


def validate_frame(df: pd.DataFrame, suite: str | Path, *, params: dict | None = None,
                   index_columns: Sequence[str] = ("crowd",)) -> ValidationOutcome:
    """Validate one DataFrame against one JSON suite in a fresh ephemeral context.

    ``params`` fill ``{"$PARAMETER": ...}`` values (e.g. ``expected_rows``);
    ``index_columns`` name the offending rows in failures (they must be columns of ``df``).
    """
    gx, progress = _gx()
    path = suite_path(suite)
    gx_suite = load_suite(path)
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = progress(globally=False)
    gx_suite = ctx.suites.add(gx_suite)
    batch = (ctx.data_sources.add_pandas("metrics").add_dataframe_asset("frame")
             .add_batch_definition_whole_dataframe("whole"))
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=gx_suite.name, data=batch, suite=gx_suite))
    result = vd.run(batch_parameters={"dataframe": df}, expectation_parameters=params or {},
                    result_format={"result_format": "COMPLETE",
                                   "unexpected_index_column_names": list(index_columns)})
    failures = []
    for res in result.results:
        if res.success:
            continue
        cfg = res.expectation_config
        failures.append(ExpectationFailure(
            suite=gx_suite.name, name=(cfg.meta or {}).get("name", cfg.type), expectation_type=cfg.type,
            severity=str(getattr(cfg.severity, "value", cfg.severity)),
            rows=_row_keys(res.result or {}, index_columns), detail=_detail(res)))
    failures.sort(key=lambda f: f.name)   # GX does not keep suite order
    worst = result.get_max_severity_failure()
    blocked = worst is not None and str(getattr(worst, "value", worst)) == "critical"
    return ValidationOutcome(success=not blocked, evaluated=len(result.results), failures=failures,
                             suites=[gx_suite.name])
