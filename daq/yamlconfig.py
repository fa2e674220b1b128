"""Load YAML config files with line numbers, so validation errors point at file, line and field.

``load_yaml`` returns the data plus a map from each key path (``("instruments", "smu",
"driver")``) to its 1-based line; ``validate`` runs a pydantic model and turns every
ValidationError entry into ``file:line: field.path: problem (got value)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

Key = tuple[str | int, ...]
M = TypeVar("M", bound=pydantic.BaseModel)


class ConfigError(Exception):
    """One or more problems in a config file; ``str()`` gives one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def line_map(text: str) -> dict[Key, int]:
    """Key path -> 1-based line of every mapping key and sequence item ({} if unparsable)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    lines: dict[Key, int] = {}

    def walk(node: yaml.Node, path: Key) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, key.value if isinstance(key, yaml.ScalarNode) else str(key))
                lines[sub] = key.start_mark.line + 1
                walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*path, index)] = item.start_mark.line + 1
                walk(item, (*path, index))

    if root is not None:
        lines[()] = root.start_mark.line + 1
        walk(root, ())
    return lines


def parse_yaml(text: str, source: str = "<text>") -> tuple[Any, dict[Key, int]]:
    """Parse YAML text; return (data, line map). Syntax errors become ConfigError."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"{mark.line + 1}" if mark else "?"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([f"{source}:{line}: YAML syntax error: {problem}"]) from None
    except RecursionError:
        raise ConfigError([f"{source}: YAML nesting is too deep"]) from None
    return data, line_map(text)


def load_yaml(path: str | os.PathLike[str]) -> tuple[Any, dict[Key, int]]:
    """Read and parse a YAML file; a missing or unreadable file becomes ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read ({exc.__class__.__name__}: {exc})"]) from None
    return parse_yaml(text, str(path))


def line_of(lines: dict[Key, int], loc: Key) -> int | None:
    """Line of the deepest known prefix of ``loc`` (pydantic locations may add model tags)."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def format_errors(exc: pydantic.ValidationError, source: str, lines: dict[Key, int]) -> list[str]:
    """One ``file:line: field: problem (got value)`` line per pydantic error."""
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        line = line_of(lines, loc)
        where = f"{source}:{line}" if line else source
        field = ".".join(str(p) for p in loc) or "(top level)"
        message = err["msg"].removeprefix("Value error, ")
        value = err.get("input")
        got = "" if isinstance(value, dict | list) or value is None else f" (got {value!r})"
        out.append(f"{where}: {field}: {message}{got}")
    return out


def validate(model: type[M], data: Any, source: str, lines: dict[Key, int]) -> M:
    """Validate ``data`` against ``model``; raise ConfigError with located messages."""
    if data is None:
        raise ConfigError([f"{source}: the file is empty"])
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ConfigError(format_errors(exc, source, lines)) from None
