"""Load YAML config files with line numbers, so validation errors point at file, line and field.

``load_yaml`` returns the data plus a map from each key path (``("instruments", "smu",
"driver")``) to its 1-based line; ``validate`` runs a pydantic model and turns every
ValidationError entry into ``file:line: field.path: problem (got value)``.

Before anything is built, the text is scanned as a flat event stream (no recursion) and
refused, with its line, when collections nest deeper than ``MAX_NESTING`` levels; a key given
twice in one mapping is refused too (YAML would silently keep the last one).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

Key = tuple[str | int, ...]
M = TypeVar("M", bound=pydantic.BaseModel)
#: deepest nesting of mappings and lists accepted (a protocol with 40 nested loops needs ~80)
MAX_NESTING = 100


def shown(value: Any, limit: int = 80) -> str:
    """``repr(value)`` for an error message, cut to ``limit`` characters (a 2 MB name stays one
    readable line)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, str) else ""
    return f"{text[:limit]}…{size}"


class ConfigError(Exception):
    """One or more problems in a config file; ``str()`` gives one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class YamlError(ConfigError):
    """A file that is not acceptable YAML: ``problem`` at 1-based ``line`` (None if unknown)."""

    def __init__(self, source: str, line: int | None, problem: str) -> None:
        self.line, self.problem = line, problem
        super().__init__([f"{source}:{line if line else '?'}: {problem}"])


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(
                key_node, yaml.ScalarNode
            ):
                continue
            key = self.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first given at line {seen[key]})",
                    key_node.start_mark,
                )  # fmt: skip
            seen[key] = line
        return super().construct_mapping(node, deep)


def _check_nesting(text: str, source: str) -> None:
    """Refuse collections nested deeper than MAX_NESTING, at the line where the limit is hit."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_NESTING:
                    raise YamlError(source, event.start_mark.line + 1,
                                    f"mappings and lists nested deeper than {MAX_NESTING} levels (the limit)")  # fmt: skip
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return  # a syntax error: reported by the full parse, with its line


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
    """Parse YAML text; return (data, line map). Every problem becomes a located YamlError."""
    _check_nesting(text, source)
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise YamlError(source, mark.line + 1 if mark else None, str(exc.problem)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlError(source, mark.line + 1 if mark else None, f"YAML syntax error: {problem}") from None  # fmt: skip
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
        got = "" if isinstance(value, dict | list) or value is None else f" (got {shown(value)})"
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
