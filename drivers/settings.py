"""Station-file settings of one instrument: a declarative schema per driver, checked in one place.

Each driver module declares ``SETTINGS: dict[str, Setting]`` once. The station check
(``ssbench station check --no-connect``) and the driver at open time (``DriverSettings``) both
check a settings mapping against it with ``check_settings``, so the two can never disagree.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from daq.units import SI_UNITS, UnitError, parse_quantity, ureg


@dataclass(frozen=True)
class Setting:
    """One setting: a quantity ``kind`` (daq.units) or python ``type``, and what is allowed.

    A ``kind`` that is not a daq.units kind is a unit expression (``"N/m"``, ``"K/min"``): the
    value must have its dimension and is compared in that unit. ``low``/``high`` bound the
    value in SI, or in that unit (inclusive); ``choices`` lists allowed plain values;
    ``sub`` is the schema of a nested mapping (e.g. the serial port of one part); ``words``
    are plain-text values also accepted for a quantity (e.g. ``auto`` for a range).
    """

    kind: str | None = None
    type: type | tuple[type, ...] | None = None
    required: bool = False
    low: float | None = None
    high: float | None = None
    unit: str = ""
    choices: tuple[Any, ...] | None = None
    sub: Mapping[str, Setting] | None = None
    words: tuple[str, ...] = ()
    example: str = ""


Schema = Mapping[str, Setting]
#: (key path inside the settings mapping, problem, offending value or None)
Problem = tuple[tuple[str, ...], str, Any]


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """ "; did you mean 'x'?" for the closest known name, or "" when none is close."""
    close = difflib.get_close_matches(str(name), sorted(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _same(choice: Any, value: Any) -> bool:
    """Choice matching as the drivers do it: text ignores case, a bool is not a number."""
    if isinstance(choice, str) and isinstance(value, str):
        return choice.casefold() == value.casefold()
    return isinstance(choice, bool) == isinstance(value, bool) and choice == value


def _magnitude(value: Any, kind: str, field: str) -> float:
    """``value`` in SI for a daq.units kind, else in the unit expression ``kind``."""
    if kind in SI_UNITS:
        return parse_quantity(value, kind, field)
    try:
        return float(ureg.Quantity(str(value)).to(kind).magnitude)
    except Exception:  # noqa: BLE001 - pint raises many types on bad text or dimension
        raise UnitError(field, value, f"expected a quantity in {kind}") from None


def _check_value(setting: Setting, value: Any, path: tuple[str, ...]) -> list[Problem]:
    if setting.sub is not None:
        if not isinstance(value, Mapping):
            return [(path, "expected a mapping of settings", value)]
        return check_settings(setting.sub, value, path)
    if setting.kind is not None:
        if isinstance(value, str) and value.strip().lower() in setting.words:
            return []
        try:
            number = _magnitude(value, setting.kind, ".".join(path))
        except UnitError as exc:
            return [(path, exc.problem, value)]
        unit = f" {setting.unit}" if setting.unit else ""
        if not math.isfinite(number):
            return [(path, "must be a finite number", value)]
        if setting.low is not None and number < setting.low:
            return [(path, f"below the allowed minimum {setting.low:g}{unit}", value)]
        if setting.high is not None and number > setting.high:
            return [(path, f"above the instrument's maximum {setting.high:g}{unit}", value)]
        return []
    if setting.choices is not None and not any(_same(choice, value) for choice in setting.choices):
        allowed = ", ".join(repr(c) for c in setting.choices)
        return [(path, f"must be one of {allowed}{did_you_mean(value, map(str, setting.choices))}", value)]  # fmt: skip
    if setting.type is not None and (
        not isinstance(value, setting.type)
        or (isinstance(value, bool) and setting.type is not bool)
    ):
        names = setting.type if isinstance(setting.type, tuple) else (setting.type,)
        return [(path, f"expected {' or '.join(t.__name__ for t in names)}", value)]
    return []


def check_settings(schema: Schema, settings: Mapping[str, Any], path: tuple[str, ...] = ()) -> list[Problem]:  # fmt: skip
    """Every problem of ``settings`` against ``schema``: unknown, missing, wrong kind, range."""
    problems: list[Problem] = []
    for key, value in settings.items():
        here = (*path, str(key))
        if key not in schema:
            hint = did_you_mean(key, schema) or f"; known: {', '.join(sorted(schema))}"
            problems.append((here, f"unknown setting{hint}", None))
        elif value is not None:
            problems.extend(_check_value(schema[key], value, here))
    for key, setting in schema.items():
        if setting.required and settings.get(key) is None:
            example = f" (e.g. {setting.example})" if setting.example else ""
            what = f": a {setting.kind}" if setting.kind in SI_UNITS else ""
            problems.append(((*path, key), f"required setting missing{what}{example}", None))
    return problems


def format_problem(instrument: str, problem: Problem) -> str:
    """``instrument.key: problem (got value)``, the form drivers raise at open time."""
    path, message, value = problem
    got = "" if value is None or isinstance(value, dict | list) else f" (got {value!r})"
    return f"{'.'.join((instrument, *path))}: {message}{got}"


class DriverSettings:
    """The ``settings`` mapping of one station instrument, checked against the driver's schema."""

    def __init__(
        self, instrument: str, settings: dict[str, Any] | None, allowed: Schema | Iterable[str]
    ):
        self.instrument = instrument
        self.raw = dict(settings or {})
        schema = allowed if isinstance(allowed, Mapping) else {key: Setting() for key in allowed}
        problems = check_settings(schema, self.raw)
        if problems:
            raise ValueError("; ".join(format_problem(instrument, p) for p in problems))

    def quantity(self, key: str, kind: str, default: float | None) -> float:
        """``key`` parsed as a ``kind`` quantity ("5 MPa") in SI, or ``default`` when absent."""
        value = self.raw.get(key)
        if value is None:
            if default is None:
                raise ValueError(f"{self.instrument}: setting {key!r} is required ({kind})")
            return default
        return parse_quantity(value, kind, f"{self.instrument}.{key}")

    def number(self, key: str, default: float) -> float:
        """A dimensionless number (gains, counts)."""
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{self.instrument}.{key}: expected a number, got {value!r}")
        return float(value)

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)


#: serial-port settings understood by drivers.serial_transport.open_serial (its SERIAL_KEYS)
SERIAL: dict[str, Setting] = {
    "baudrate": Setting(choices=(1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)),
    "bytesize": Setting(choices=(5, 6, 7, 8)),
    "parity": Setting(choices=("N", "E", "O", "M", "S")),
    "stopbits": Setting(choices=(1, 1.5, 2)),
    "timeout": Setting(kind="time", low=0.001, high=3600, unit="s"),
    "retries": Setting(type=int),
}
