"""Read a protocol from YAML text or a plain dict; every problem becomes a located one-liner."""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Any

from pydantic import ValidationError

from daq.yamlconfig import YamlError, parse_yaml
from protocols.errors import Issue, ProtocolError, from_validation_error, locate
from protocols.model import Protocol
from protocols.program import compile_protocol


def load_protocol(path: str | FsPath) -> Protocol:
    """Parse, validate and compile-check the protocol file at ``path``."""
    path = FsPath(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProtocolError([Issue((), f"cannot read the file ({exc})")], str(path)) from None
    return load_protocol_text(text, str(path))


def load_protocol_text(text: str, source: str = "<protocol>") -> Protocol:
    """Parse YAML ``text`` (named ``source`` in messages) into a checked Protocol."""
    try:
        data, lines = parse_yaml(text, source)
    except YamlError as exc:
        problem = exc.problem.replace("YAML syntax error", "not valid YAML", 1)
        raise ProtocolError([Issue((), problem, exc.line)], source) from None
    return protocol_from_data(data, source, lines)


def protocol_from_data(
    data: Any, source: str = "<protocol>", lines: dict | None = None
) -> Protocol:
    """Validate a YAML-shaped dict (unit strings) into a checked Protocol."""
    lines = lines or {}
    if not isinstance(data, dict):
        found = type(data).__name__ if data is not None else "an empty document"
        raise ProtocolError(
            [Issue((), f"a protocol is a mapping with 'name' and 'steps' (found {found})", 1)],
            source,
        )
    try:
        protocol = Protocol.model_validate(data)
    except ValidationError as exc:
        raise ProtocolError(locate(from_validation_error(exc, data), lines), source) from None
    except RecursionError:
        raise ProtocolError([Issue((), "steps are nested too deeply")], source) from None
    try:
        compile_protocol(protocol)
    except ProtocolError as exc:
        raise ProtocolError(locate(exc.issues, lines), source) from None
    return protocol
