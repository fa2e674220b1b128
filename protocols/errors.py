"""Protocol errors as one line each: ``FILE:LINE: FIELD: problem with VALUE``.

Pydantic's ValidationError and the compiler's semantic checks both become :class:`Issue` lists;
:func:`locate` fills in line numbers from the YAML line map (``daq.yamlconfig``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError

from daq.yamlconfig import line_of, shown

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Issue:
    """One problem: where (path into the document, line once located) and what."""

    path: Path
    message: str
    line: int | None = None

    @property
    def field(self) -> str:
        return format_path(self.path)


class ProtocolError(ValueError):
    """A protocol that cannot run; ``issues`` lists every problem found, each on one line."""

    def __init__(self, issues: Iterable[Issue], source: str = "<protocol>") -> None:
        self.issues = list(issues)
        self.source = source
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        out = []
        for issue in self.issues:
            where = f"{self.source}:{issue.line}" if issue.line else self.source
            field = f" {issue.field}:" if issue.path else ""
            out.append(f"{where}:{field} {issue.message}")
        return out


def format_path(path: Path) -> str:
    """('steps', 3, 'end', 0, 'time') -> 'steps[3].end[0].time'."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def locate(issues: Iterable[Issue], lines: dict[Path, int]) -> list[Issue]:
    """Give each issue the line of its path, or of the nearest enclosing path."""
    return [replace(issue, line=line_of(lines, issue.path)) for issue in issues]


def _data_path(loc: tuple[Any, ...], data: Any) -> Path:
    """Drop union tags and validator names from a pydantic ``loc`` by walking the input."""
    path: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if (
            isinstance(node, dict)
            and part in node
            or isinstance(node, list)
            and isinstance(part, int)
            and 0 <= part < len(node)
        ):
            node = node[part]
        elif not last or part == "[key]" or (isinstance(node, dict) and node.get("type") == part):
            continue  # a union tag (the step type) or a validator name
        path.append(part)
    return tuple(path)


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


_MISSING = "required field is missing"


def _message(error: dict[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind == "missing":
        return _MISSING
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "union_tag_invalid":
        return f"unknown step type {ctx.get('tag')!r} (known: {ctx.get('expected_tags')})"
    if kind == "union_tag_not_found":
        return "a step needs a 'type'"
    message = str(error["msg"])
    if _scalar(value):
        message += f" (got {shown(value)})"
    return message


def _renamed(path: Path, data: Any) -> str | None:
    """For an unknown field of a step: its present name when the step type renamed it."""
    from protocols.steps.registry import STEP_TYPES

    node = data
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    kind = STEP_TYPES.get(node.get("type")) if isinstance(node, dict) else None
    return kind.renamed.get(str(path[-1])) if kind is not None and path else None


def from_validation_error(exc: ValidationError, data: Any) -> list[Issue]:
    """Pydantic errors -> issues with document paths and one-phrase messages (a field under
    its former name says so, and its present name is then not also reported missing)."""
    issues, renamed = [], set()
    for error in exc.errors(include_url=False):
        path = _data_path(tuple(error["loc"]), data)
        now = _renamed(path, data) if error["type"] == "extra_forbidden" else None
        if now is not None:
            renamed.add((*path[:-1], now))
            issues.append(Issue(path, f"'{path[-1]}' was renamed: write '{now}' (docs/protocols.md)"))  # fmt: skip
        else:
            issues.append(Issue(path, _message(error)))
    return [i for i in issues if not (i.path in renamed and i.message == _MISSING)]
