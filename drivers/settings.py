"""Station-file settings of one instrument: a declarative schema per driver, checked in one place.

Each driver module declares ``SETTINGS: dict[str, Setting]`` once: kind or type, bounds
(``low``/``high``, ``above`` for an exclusive minimum, ``at_most`` another setting), choices
and default. The station check (``ssbench station check --no-connect``) and the driver at open
time (``DriverSettings``, or ``parse_settings`` into a ``settings_class``) both check a settings
mapping against it with ``check_settings``, so the two can never disagree.
"""

from __future__ import annotations

import dataclasses
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
    are plain-text values also accepted for a quantity (e.g. ``auto`` for a range, parsed to
    None). ``above`` is an exclusive minimum (a stiffness of 0 is refused); ``at_most`` names
    another setting of the same kind that bounds this one (a default is lowered to it).
    ``low``/``high`` bound integers too. ``type=bool`` also takes true/false, yes/no, on/off.
    ``default`` is the parsed value (SI) used when the station file leaves the setting out.
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
    above: float | None = None
    at_most: str | None = None
    default: Any = None


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


_TRUE, _FALSE = ("true", "yes", "on"), ("false", "no", "off")


def _bounds(setting: Setting, number: float, path: tuple[str, ...], value: Any) -> list[Problem]:
    """The ``low``/``high``/``above`` problems of a parsed number."""
    unit = f" {setting.unit}" if setting.unit else ""
    if setting.above is not None and not number > setting.above:
        return [(path, f"must be greater than {setting.above:g}{unit}", value)]
    if setting.low is not None and number < setting.low:
        return [(path, f"below the allowed minimum {setting.low:g}{unit}", value)]
    if setting.high is not None and number > setting.high:
        return [(path, f"above the instrument's maximum {setting.high:g}{unit}", value)]
    return []


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
        if not math.isfinite(number):
            return [(path, "must be a finite number", value)]
        return _bounds(setting, number, path, value)
    if setting.choices is not None and not any(_same(choice, value) for choice in setting.choices):
        allowed = ", ".join(repr(c) for c in setting.choices)
        return [(path, f"must be one of {allowed}{did_you_mean(value, map(str, setting.choices))}", value)]  # fmt: skip
    if setting.type is bool:
        if isinstance(value, bool) or str(value).strip().lower() in (*_TRUE, *_FALSE):
            return []
        return [(path, "expected true or false (yes/no, on/off)", value)]
    if setting.type is not None and (
        not isinstance(value, setting.type)
        or (isinstance(value, bool) and setting.type is not bool)
    ):
        names = setting.type if isinstance(setting.type, tuple) else (setting.type,)
        return [(path, f"expected {' or '.join(t.__name__ for t in names)}", value)]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _bounds(setting, value, path, value)
    return []


def _parsed(setting: Setting, value: Any, field: str) -> Any:
    """A checked value in its working form: SI float, None for a word, canonical choice, bool."""
    if setting.sub is not None:
        return dict(value)
    if setting.kind is not None:
        if isinstance(value, str) and value.strip().lower() in setting.words:
            return None
        return _magnitude(value, setting.kind, field)
    if setting.type is bool:
        return value if isinstance(value, bool) else str(value).strip().lower() in _TRUE
    if setting.choices is not None:
        return next(choice for choice in setting.choices if _same(choice, value))
    return value


def _related(schema: Schema, settings: Mapping[str, Any], path: tuple[str, ...]) -> list[Problem]:
    """``at_most`` bounds between settings, compared parsed (only when both parse)."""
    problems: list[Problem] = []
    for key, setting in schema.items():
        bound = setting.at_most
        if bound is None or settings.get(key) is None:
            continue
        try:
            value = _parsed(setting, settings[key], key)
            other = schema[bound]
            limit = (
                other.default
                if settings.get(bound) is None
                else _parsed(other, settings[bound], bound)
            )
        except (UnitError, ValueError):
            continue  # reported on its own
        if value is not None and limit is not None and value > limit:
            unit = f" {setting.unit}" if setting.unit else ""
            problems.append(((*path, key), f"above {bound} ({limit:g}{unit})", settings[key]))
    return problems


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
    if not problems:
        problems = _related(schema, settings, path)
    return problems


def parse_settings(instrument: str, schema: Schema, settings: Mapping[str, Any] | None) -> dict[str, Any]:  # fmt: skip
    """Every key of ``schema`` parsed (SI floats, bools, canonical choices) or its default;
    ValueError naming ``instrument.key`` for every problem, as ``check_settings`` finds them."""
    raw = dict(settings or {})
    problems = check_settings(schema, raw)
    if problems:
        raise ValueError("; ".join(format_problem(instrument, p) for p in problems))
    out = {key: _parsed(s, raw[key], f"{instrument}.{key}") if raw.get(key) is not None else s.default
           for key, s in schema.items()}  # fmt: skip
    for key, setting in schema.items():  # a default never exceeds the setting that bounds it
        if setting.at_most and raw.get(key) is None and out[key] is not None:
            out[key] = min(out[key], out[setting.at_most])
    return out


def settings_class(name: str, schema: Schema) -> type:
    """A frozen dataclass with one field per schema key (default: the schema's), for typed
    access to :func:`parse_settings` results; the schema stays the one declaration."""
    fields = [(key, Any, dataclasses.field(default=s.default)) for key, s in schema.items()]
    return dataclasses.make_dataclass(name, fields, frozen=True)


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
        """``key`` parsed as a ``kind`` quantity ("5 MPa") in SI (or in the unit expression
        ``kind``, e.g. "N/m"), or ``default`` when absent."""
        value = self.raw.get(key)
        if value is None:
            if default is None:
                raise ValueError(f"{self.instrument}: setting {key!r} is required ({kind})")
            return default
        return _magnitude(value, kind, f"{self.instrument}.{key}")

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
    "retries": Setting(type=int, low=0, high=10),
}
