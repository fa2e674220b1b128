"""One pint registry for the project and the helpers that turn user text into SI floats.

Users write "0.5 mA/cm2", "5 MPa", "30 min", "55 degC" at the edges; inside, everything is an
SI float (s, V, A, m², Pa, N, K, C). Errors name the field and the offending value.
"""

from __future__ import annotations

import math
import re
from functools import cache

import pint

_UNIT_POWER = re.compile(r"(?<=[A-Za-zµ])([23])\b")


def _unit_powers(text: str) -> str:
    """Read the lab's shorthand "cm2", "mm3" as "cm**2", "mm**3"."""
    return _UNIT_POWER.sub(r"**\1", text)


ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True, preprocessors=[_unit_powers])
ureg.define("mAh = milliampere * hour")
ureg.define("uAh = microampere * hour")
Quantity = ureg.Quantity

#: SI unit used internally for each physical kind a field can have.
SI_UNITS: dict[str, str] = {
    "time": "s",
    "voltage": "V",
    "current": "A",
    "current_density": "A/m**2",
    "areal_capacity": "C/m**2",
    "charge": "C",
    "pressure": "Pa",
    "force": "N",
    "area": "m**2",
    "length": "m",
    "temperature": "K",
    "resistance": "ohm",
    "area_resistance": "ohm*m**2",
    "frequency": "Hz",
    "voltage_rate": "V/s",
    "pressure_rate": "Pa/s",
    "force_rate": "N/s",
    "velocity": "m/s",
    "areal_mass": "kg/m**2",
    "mass": "kg",
    "specific_capacity": "C/kg",
    "dimensionless": "",
}


class UnitError(ValueError):
    """A quantity could not be parsed or has the wrong dimension; names field and value."""

    def __init__(self, field: str, value: object, problem: str) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        super().__init__(f"{field}: {problem} (got {value!r})")


@cache
def _dimensionality(kind: str) -> pint.util.UnitsContainer:
    return ureg.Quantity(1, SI_UNITS[kind]).dimensionality


def parse_quantity(value: object, kind: str, field: str = "value") -> float:
    """Parse ``value`` (e.g. ``"0.5 mA/cm2"``) as a quantity of ``kind``; return its SI magnitude.

    Bare numbers are accepted only for dimensionless kinds: a number without a unit at the
    edge is ambiguous and is refused rather than guessed.
    """
    if kind not in SI_UNITS:
        raise KeyError(f"unknown quantity kind {kind!r}; known: {', '.join(SI_UNITS)}")
    if isinstance(value, bool):
        raise UnitError(field, value, f"expected a {kind.replace('_', ' ')} with a unit")
    if isinstance(value, int | float):
        if kind == "dimensionless":
            return float(value)
        raise UnitError(
            field, value, f"a {kind.replace('_', ' ')} needs a unit, e.g. '{_example(kind)}'"
        )
    if isinstance(value, pint.Quantity):
        quantity = value
    elif isinstance(value, str):
        try:
            quantity = Quantity(value.strip())
        except Exception as exc:  # noqa: BLE001 - pint's parser raises many types on bad text
            raise UnitError(field, value, f"cannot parse as a quantity ({_short(exc)})") from None
    else:
        raise UnitError(field, value, f"expected text such as '{_example(kind)}'")
    if not isinstance(quantity, pint.Quantity):  # e.g. "5" parsed to a plain number
        quantity = Quantity(quantity)
    if quantity.dimensionless and kind != "dimensionless":
        raise UnitError(
            field, value, f"a {kind.replace('_', ' ')} needs a unit, e.g. '{_example(kind)}'"
        )
    if quantity.dimensionality != _dimensionality(kind):
        raise UnitError(
            field,
            value,
            f"expected a {kind.replace('_', ' ')} (like '{_example(kind)}'), "
            f"not {quantity.dimensionality}",
        )
    try:
        magnitude = float(quantity.to(SI_UNITS[kind]).magnitude)
    except (TypeError, ValueError) as exc:  # complex or non-numeric magnitudes
        raise UnitError(field, value, f"not a real number ({_short(exc)})") from None
    if not math.isfinite(magnitude):
        raise UnitError(field, value, "must be a finite number")
    return magnitude


def format_quantity(si_value: float, kind: str, unit: str, digits: int = 4) -> str:
    """Render an SI float in a display unit, e.g. ``format_quantity(5e6, 'pressure', 'MPa')``."""
    q = Quantity(si_value, SI_UNITS[kind]).to(unit)
    return f"{q.magnitude:.{digits}g} {unit}"


_EXAMPLES = {
    "time": "30 min",
    "voltage": "5 mV",
    "current": "0.1 mA",
    "current_density": "0.5 mA/cm2",
    "areal_capacity": "1 mAh/cm2",
    "charge": "1 mAh",
    "pressure": "5 MPa",
    "force": "500 N",
    "area": "1 cm2",
    "length": "1 mm",
    "temperature": "55 degC",
    "resistance": "100 ohm",
    "area_resistance": "10 ohm*cm2",
    "frequency": "10 Hz",
    "voltage_rate": "1 mV/s",
    "pressure_rate": "1 MPa/min",
    "force_rate": "10 N/s",
    "velocity": "1 um/s",
    "areal_mass": "5 mg/cm2",
    "mass": "5 mg",
    "specific_capacity": "170 mAh/g",
    "dimensionless": "0.5",
}


def _example(kind: str) -> str:
    return _EXAMPLES.get(kind, SI_UNITS[kind])


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
