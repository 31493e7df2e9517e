"""Reading a playbook file: YAML with line numbers, validation, issues.

The YAML is composed once into nodes (which carry their source marks) and
constructed into plain data from the same nodes; every problem found later
(pydantic's ``loc`` or a rule's ``loc``) is walked back through the node tree
to the line of the offending key. Each top-level item is validated on its own
so that every broken item is reported, not only the first, and the rules that
relate items to each other still run on the items that are sound.

A load of a 60-strategy file takes ~10-20 ms; ``load_playbook`` keeps the
(frozen) result per (path, mtime, size), so repeated loads of an unchanged
file in one process are free and an edited file is always re-read.
"""
from __future__ import annotations

import difflib
import os
import types
from collections.abc import Hashable
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dacu.playbook import rules
from dacu.playbook.model import (
    Channels, Coupon, Metrics, Phase, Playbook, Readiness, Sale, Strategy,
)
from dacu.playbook.timeparse import DEFAULT_TIMEZONE

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Severity = Literal["error", "warning"]
Loc = tuple[Any, ...]

_SECTIONS: dict[str, tuple[type[BaseModel], bool, bool]] = {
    # name: (model, is a list of items, required)
    "sale": (Sale, False, True),
    "phases": (Phase, True, True),
    "strategies": (Strategy, True, True),
    "coupons": (Coupon, True, False),
    "channels": (Channels, False, False),
    "readiness": (Readiness, False, False),
    "metrics": (Metrics, False, False),
}


@dataclass(frozen=True)
class PlaybookIssue:
    path: str
    line: int | None
    field: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else f"{self.path}:"
        return " ".join(part for part in (where, self.field, self.message) if part)

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "field": self.field, "message": self.message,
                "severity": self.severity}


class PlaybookError(Exception):
    """A playbook that cannot be used; ``issues`` holds every error, ``str()`` one line per error."""

    def __init__(self, issues: list[PlaybookIssue]):
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class PlaybookFileError(PlaybookError):
    """The file itself cannot be read (missing, a directory, not UTF-8, no permission)."""


# ---- public API --------------------------------------------------------------------------------

def load_playbook(path: str | Path) -> Playbook:
    """Load and validate a playbook; raise PlaybookError listing every error.

    The result is frozen and kept per (path, mtime, size): Airflow parses the DAG
    files often and several DAGs come from one playbook; an edited file is re-read.
    """
    key = str(path)
    stamp = _stamp(path)
    hit = _CACHE.get(key)
    if stamp is not None and hit is not None and hit[0] == stamp:
        return hit[1]
    playbook, issues = _analyse(path)
    errors = [i for i in issues if i.severity == "error"]
    if errors or playbook is None:
        raise PlaybookError(errors)
    if stamp is not None:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = (stamp, playbook)
    return playbook


def lint_file(path: str | Path) -> list[PlaybookIssue]:
    """Every error and warning of a playbook, by line. An unreadable file raises PlaybookFileError."""
    return _analyse(path)[1]


_CACHE: dict[str, tuple[tuple[int, int], Playbook]] = {}
_CACHE_SIZE = 32


def _stamp(path: str | Path) -> tuple[int, int] | None:
    """(mtime_ns, size), taken before reading so a write during the read shows as a change next time."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


# ---- the work ----------------------------------------------------------------------------------

def _read(path: str | Path) -> str:
    name = str(path)
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        message = "file not found"
    except IsADirectoryError:
        message = "is a directory, not a playbook file"
    except PermissionError:
        message = "cannot be read (permission denied)"
    except UnicodeDecodeError as exc:
        message = f"is not UTF-8 text (byte {exc.start})"
    except OSError as exc:
        message = f"cannot be read ({exc.strerror})"
    raise PlaybookFileError([PlaybookIssue(name, None, "", message)])


def _parse(text: str) -> tuple[Node | None, Any]:
    """Compose the node tree and construct the data from the same nodes (one parse)."""
    loader = _SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = _construct(loader, node) if node is not None else None
    finally:
        loader.dispose()
    return node, data


_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


def _construct(loader: Any, node: Node) -> Any:
    """Plain data from nodes; a fast path for the common shapes (PyYAML's generic
    constructor is most of a load's time), the safe constructor for the rest
    (merge keys, sets, binary, ...)."""
    if isinstance(node, ScalarNode):
        if node.tag == _STR_TAG:
            return node.value
        return loader.construct_object(node, deep=True)
    if isinstance(node, SequenceNode) and node.tag == _SEQ_TAG:
        return [_construct(loader, item) for item in node.value]
    if isinstance(node, MappingNode) and node.tag == _MAP_TAG and not any(
            k.tag == "tag:yaml.org,2002:merge" for k, _ in node.value):
        out = {}
        for k, v in node.value:
            key = _construct(loader, k)
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, "found an unhashable key", k.start_mark)
            out[key] = _construct(loader, v)
        return out
    return loader.construct_document(node)


def _analyse(path: str | Path) -> tuple[Playbook | None, list[PlaybookIssue]]:
    name = str(path)
    text = _read(path)
    try:
        root, data = _parse(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        context = exc.context or ""
        if exc.context and exc.context_mark is not None and exc.context_mark is not mark:
            context += f" (from line {exc.context_mark.line + 1})"
        detail = ": ".join(str(p) for p in (context, exc.problem) if p)
        return None, [PlaybookIssue(name, mark.line + 1 if mark else None, "", f"YAML syntax error: {detail}")]
    except yaml.YAMLError as exc:
        return None, [PlaybookIssue(name, None, "", f"YAML error: {exc}")]
    if root is None or data is None:
        return None, [PlaybookIssue(name, 1, "", "the file is empty")]
    if not isinstance(data, dict):
        return None, [PlaybookIssue(name, root.start_mark.line + 1, "",
                                    "must be a mapping with sale, phases, strategies, ...")]

    findings: list[tuple[Loc, str, str]] = list(_duplicate_keys(root, ()))
    for key in data:
        if key not in _SECTIONS:
            findings.append(((key,), _unknown_key_message(key, list(_SECTIONS)), "error"))
    for key, (_, _, required) in _SECTIONS.items():
        if required and data.get(key) is None:
            findings.append(((key,), "is required", "error"))

    tz = _sale_tz(data, findings)
    ctx = {"tz": tz}
    validated: dict[str, Any] = {}
    for key, (model, is_list, _) in _SECTIONS.items():
        raw = data.get(key)
        if raw is None:
            validated[key] = [] if is_list else None
        elif is_list:
            if not isinstance(raw, list):
                findings.append(((key,), "must be a list of items (- ...)", "error"))
                validated[key] = []
            else:
                validated[key] = [_validate(model, item, (key, i), ctx, findings) for i, item in enumerate(raw)]
        else:
            validated[key] = _validate(model, raw, (key,), ctx, findings)

    parts = rules.Parts(
        sale=validated["sale"], phases=validated["phases"], strategies=validated["strategies"],
        coupons=validated["coupons"], channels=validated["channels"] or Channels(),
        raw_phase_ids=_raw_ids(data.get("phases")), raw_coupon_ids=_raw_ids(data.get("coupons")))
    findings += rules.check(parts)

    issues = sorted((_issue(name, root, *finding) for finding in findings), key=lambda i: (i.line or 0))
    if any(i.severity == "error" for i in issues):
        return None, issues
    # the rules saw the file as written; readers of a strategy's crowd get the filters in its params
    strategies = [s.with_filters_applied() for s in parts.strategies]
    playbook = Playbook(
        path=Path(path), sale=parts.sale, phases=parts.phases, strategies=strategies, coupons=parts.coupons,
        channels=parts.channels, readiness=validated["readiness"] or Readiness(),
        metrics=validated["metrics"] or Metrics())
    return playbook, issues


def _sale_tz(data: dict, findings: list) -> ZoneInfo:
    sale = data.get("sale")
    name = sale.get("timezone", DEFAULT_TIMEZONE) if isinstance(sale, dict) else DEFAULT_TIMEZONE
    try:
        if not isinstance(name, str) or not name:
            raise ZoneInfoNotFoundError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # keep reading the file in the default zone so its other errors still show
        findings.append((("sale", "timezone"), f"'{name}' is not an IANA timezone name (e.g. Asia/Shanghai)",
                         "error"))
        return ZoneInfo(DEFAULT_TIMEZONE)


def _validate(model: type[BaseModel], raw: Any, loc: Loc, ctx: dict, findings: list) -> Any:
    try:
        return model.model_validate(raw, context=ctx)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            findings.append(((*loc, *err["loc"]), _message(model, err), "error"))
        return None


def _raw_ids(items: Any) -> set[str]:
    if not isinstance(items, list):
        return set()
    return {str(item["id"]) for item in items if isinstance(item, dict) and item.get("id") is not None}


# ---- messages and lines ------------------------------------------------------------------------

def _message(model: type[BaseModel], err: dict) -> str:
    kind, msg, value = err["type"], err["msg"], err.get("input")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        fields = _fields_at(model, err["loc"][:-1])
        return _unknown_key_message(err["loc"][-1], fields)
    if kind == "literal_error":
        return f"{_show(value)} is not one of: {err['ctx']['expected'].replace(' or ', ', ')}"
    if kind == "string_pattern_mismatch":
        return f"{_show(value)} does not match {err['ctx']['pattern']}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a mapping (key: value)"
    if kind == "list_type":
        return "must be a list"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    text = msg[0].lower() + msg[1:] if msg else kind
    text = text.replace("input should", "should")
    return f"{text} (got {_show(value)})"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unknown_key_message(key: Any, allowed: list[str]) -> str:
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    if close:
        return f"is an unknown key (did you mean '{close[0]}'?)"
    return f"is an unknown key (known: {', '.join(allowed)})" if allowed else "is an unknown key"


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """The key names the model accepts at ``loc`` (for 'did you mean')."""
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp, part)
        if tp is None:
            return []
    tp = _unwrap(tp, None)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return []


def _unwrap(tp: Any, part: Any) -> Any:
    """Step from a type to the type found at ``part`` (a field name, a list index or a dict key)."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            models = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = models[0] if len(models) == 1 else next(
                (a for a in models if isinstance(a, type) and issubclass(a, BaseModel)), models[0])
        else:
            break
    if part is None:
        return tp
    origin = typing.get_origin(tp)
    if isinstance(part, int) and origin is list:
        return typing.get_args(tp)[0]
    if isinstance(part, str) and origin is dict:
        return typing.get_args(tp)[1]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for n, f in tp.model_fields.items():
            if part in (n, f.alias):
                return f.annotation
    return None


def _issue(path: str, root: Node, loc: Loc, message: str, severity: str, line: int | None = None) -> PlaybookIssue:
    """A finding as an issue; ``line`` is given where the loc alone cannot tell (a duplicate key)."""
    return PlaybookIssue(path, line or _line_of(root, loc), _field_path(loc), message,
                         severity)  # type: ignore[arg-type]


def _field_path(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(root: Node, loc: Loc) -> int:
    """The line of the deepest node on ``loc``: a key's own line, an item's first line."""
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, MappingNode):
            match = next(((k, v) for k, v in node.value
                          if isinstance(k, ScalarNode) and k.value == str(part)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _duplicate_keys(node: Node, loc: Loc):
    """YAML silently keeps the last of two equal keys; a playbook must not."""
    if isinstance(node, MappingNode):
        seen: dict[str, int] = {}
        for k, v in node.value:
            key = k.value if isinstance(k, ScalarNode) else None
            if key is not None and key in seen:
                yield ((*loc, key), f"duplicate key (first at line {seen[key]})", "error", k.start_mark.line + 1)
            elif key is not None:
                seen[key] = k.start_mark.line + 1
            yield from _duplicate_keys(v, (*loc, key))
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*loc, i))
