"""MethodSCRIPT wire format, host side: numbers in scripts, data packages, device errors.

Pure functions, no I/O. A data package is one line ``P<var>;<var>;...``; each variable is a
two-letter type code, a value of 7 hexadecimal digits offset by 0x8000000 followed by one SI
prefix character (``800000Am`` = +10 m = 0.01), then optional comma-separated metadata whose
first character says what it is (``1`` status bits, ``2`` current range, both hex). A value
field of ``nan`` marks a missing reading. Errors are ``!XXXX`` (hex code) with an optional
``: Line n, Col m`` position. Written from the public MethodSCRIPT manual; see
docs/instruments/methodscript.md for the subset ssbench uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

#: SI prefix character -> power of ten ("i": an integer, no scaling)
PREFIX_EXPONENT: dict[str, int] = {
    "a": -18, "f": -15, "p": -12, "n": -9, "u": -6, "m": -3, " ": 0,
    "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18, "i": 0,
}  # fmt: skip
VALUE_OFFSET = 0x8000000
#: variable type codes ssbench reads -> (quantity, SI unit)
VARIABLE_TYPES: dict[str, tuple[str, str]] = {
    "aa": ("unknown", ""),
    "ab": ("potential", "V"),  # WE potential (measured)
    "ba": ("current", "A"),  # WE current (measured)
    "da": ("set_potential", "V"),
    "db": ("set_current", "A"),
    "dc": ("frequency", "Hz"),  # applied AC frequency
    "cc": ("z_real", "ohm"),
    "cd": ("z_imag", "ohm"),
    "eb": ("time", "s"),
}
#: status bits of metadata "1"
STATUS_OVERLOAD = 0x2
STATUS_UNDERLOAD = 0x4
STATUS_OVERLOAD_WARNING = 0x8
#: device error codes the twin and the driver know (docs/instruments/methodscript.md)
ERROR_TEXT: dict[int, str] = {
    0x0001: "unspecified error",
    0x0002: "invalid variable type",
    0x0003: "unknown command",
    0x0004: "invalid argument",
    0x0005: "value out of range",
    0x0007: "no script loaded",
    0x000B: "measurement failed",
}


@dataclass(frozen=True)
class Variable:
    """One variable of a package: type code, SI value (NaN when missing), metadata."""

    type: str
    value: float
    status: int = 0
    current_range: int | None = None

    @property
    def overload(self) -> bool:
        return bool(self.status & STATUS_OVERLOAD)


@dataclass(frozen=True)
class Package:
    """A parsed data package; ``values`` by type code (the first of each type wins)."""

    variables: tuple[Variable, ...]
    values: dict[str, float] = field(default_factory=dict)

    @property
    def overload(self) -> bool:
        return any(v.overload for v in self.variables)


def decode_value(text: str) -> float:
    """``"800000Am"`` -> 0.01; ``"     nan"`` -> NaN; ValueError for anything else."""
    if text.strip().lower() == "nan":
        return math.nan
    if len(text) != 8 or text[7] not in PREFIX_EXPONENT:
        raise ValueError(f"not a MethodSCRIPT value: {text!r}")
    digits = text[:7]
    if not all(c in "0123456789abcdefABCDEF" for c in digits):
        raise ValueError(f"not a MethodSCRIPT value: {text!r}")
    raw = int(digits, 16) - VALUE_OFFSET
    exponent = PREFIX_EXPONENT[text[7]]
    return float(raw) if exponent == 0 else raw * 10.0**exponent


def _variable(text: str) -> Variable:
    code, rest = text[:2], text[2:]
    if len(code) != 2 or not code.isalpha() or not code.islower():
        raise ValueError(f"bad variable type {code!r} in {text!r}")
    value_text, *meta = rest.split(",")
    status, current_range = 0, None
    for item in meta:
        if len(item) < 2:
            raise ValueError(f"bad metadata {item!r} in {text!r}")
        kind, number = item[0], int(item[1:], 16)
        if kind == "1":
            status = number
        elif kind == "2":
            current_range = number
    return Variable(code, decode_value(value_text), status, current_range)


def parse_package(line: str) -> Package:
    """One ``P...`` line -> Package; ValueError (naming the line) when it is not one."""
    if not line.startswith("P") or len(line) < 11:
        raise ValueError(f"not a data package: {line!r}")
    variables = tuple(_variable(part) for part in line[1:].split(";"))
    values: dict[str, float] = {}
    for v in variables:
        values.setdefault(v.type, v.value)
    return Package(variables, values)


@dataclass(frozen=True)
class DeviceError:
    """``!XXXX[: Line n, Col m]`` from the device."""

    code: int
    line: int | None = None
    column: int | None = None

    @property
    def text(self) -> str:
        where = f" (script line {self.line}, column {self.column})" if self.line else ""
        return ERROR_TEXT.get(self.code, "undocumented error") + where


def parse_error(line: str) -> DeviceError:
    """``"!0004: Line 3, Col 12"`` -> DeviceError(4, 3, 12); ValueError if not an error."""
    if not line.startswith("!") or len(line) < 5:
        raise ValueError(f"not a device error: {line!r}")
    code = int(line[1:5], 16)
    where = line[5:].lstrip(": ").split(",")
    numbers = [int(part.split()[-1]) for part in where if part.strip()]
    if len(numbers) == 2:
        return DeviceError(code, numbers[0], numbers[1])
    return DeviceError(code)


def format_number(value: float) -> str:
    """A script argument in MethodSCRIPT number syntax: ``0.0125`` -> ``12500u``.

    Integer mantissa with the largest prefix that keeps it exact to 1 ppm of the value;
    refuses NaN/inf (the driver validates before formatting).
    """
    if not math.isfinite(value):
        raise ValueError(f"cannot send {value!r} to a MethodSCRIPT device")
    if value == 0:
        return "0"
    for prefix, exponent in (("M", 6), ("k", 3), ("", 0), ("m", -3), ("u", -6), ("n", -9),
                             ("p", -12), ("f", -15)):  # fmt: skip
        mantissa = value / 10.0**exponent
        if abs(mantissa - round(mantissa)) <= 1e-6 * abs(mantissa) and abs(mantissa) >= 1:
            return f"{round(mantissa)}{prefix}"
    return f"{round(value / 1e-15)}f"
