"""Parsers for SCPI replies; each raises ValueError on anything malformed.

Used as ``parse=`` callbacks of :meth:`drivers.transport.Transport.query`, which turns a
ValueError into :class:`~drivers.errors.GarbledReply` (and retries idempotent queries).
"""

from __future__ import annotations

import math
import re

import numpy as np

#: what SCPI instruments return for an over-range / overflowed reading
OVERFLOW = 9.9e37

_ERROR = re.compile(r'^\s*([+-]?\d+)\s*,\s*"(.*)"\s*$', re.DOTALL)


def parse_error(reply: str) -> tuple[int, str]:
    """``-113,"Undefined header"`` -> (-113, "Undefined header")."""
    match = _ERROR.match(reply)
    if match is None:
        raise ValueError(f"not a SCPI error reply: {reply!r}")
    return int(match.group(1)), match.group(2)


def parse_number(reply: str) -> float:
    """A finite SCPI number; the overflow marker 9.9E37 becomes NaN (no valid reading)."""
    value = float(reply)
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"not a finite number: {reply!r}")
    return math.nan if abs(value) >= OVERFLOW else value


def parse_int(reply: str) -> int:
    """A SCPI integer (NR1); "12.0" is refused as garbled."""
    text = reply.strip()
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError(f"not an integer: {reply!r}")
    return int(text)


def parse_bool(reply: str) -> bool:
    """``1``/``0`` (also ``ON``/``OFF``)."""
    text = reply.strip().upper()
    if text in ("1", "ON"):
        return True
    if text in ("0", "OFF"):
        return False
    raise ValueError(f"not a boolean: {reply!r}")


def parse_table(reply: str, columns: int, rows: int | None = None) -> np.ndarray:
    """Comma-separated numbers as a (rows, columns) array; overflow markers become NaN.

    The number of values must be a multiple of ``columns`` (and equal ``rows * columns`` when
    ``rows`` is given), otherwise the reply was truncated or corrupted.
    """
    try:
        values = np.fromstring(reply, dtype=float, sep=",")  # C parser: ~2x split + float
    except ValueError:
        raise ValueError(f"non-numeric value in table reply {reply[:80]!r}") from None
    if values.size % columns or (rows is not None and values.size != rows * columns):
        expected = f"{rows} x {columns}" if rows is not None else f"a multiple of {columns}"
        raise ValueError(f"table reply has {values.size} values, expected {expected}")
    if not np.all(np.isfinite(values)):
        raise ValueError("non-finite value in table reply")
    values[np.abs(values) >= OVERFLOW] = np.nan
    return values.reshape(-1, columns)
