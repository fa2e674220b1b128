"""Pydantic field types that read unit strings ("0.1 mA/cm2", "5 MPa") into SI floats.

At the edge (YAML, Python builder) a bare number for a dimensional field is refused: it is
ambiguous. Normalized JSON (stored in run files, produced by templates) holds SI floats, so
validating with ``context={"si": True}`` accepts plain numbers as SI values.

Absurd magnitudes are refused with the limit named: a duration beyond ``MAX_DURATION_S`` (ten
years), a count beyond ``MAX_COUNT``, a name longer than ``MAX_NAME_LENGTH`` characters.
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import BeforeValidator, Field, ValidationInfo

from daq.units import UnitError, parse_quantity

SI_CONTEXT = {"si": True}
#: longest time a protocol may name: ten years of 365.25 days, in s
MAX_DURATION_S = 10 * 365.25 * 86400
#: most repetitions (loop counts, cycles) a protocol may ask for
MAX_COUNT = 10_000_000
#: longest name or free-text label, in characters
MAX_NAME_LENGTH = 200
#: largest magnitude of each quantity kind (SI), where one is absurd whatever the instrument
_CEILINGS = {"time": (MAX_DURATION_S, "10 years")}


def _label(kind: str) -> str:
    return kind.replace("_", " ")


def _quantity_parser(kind: str, sign: str | None):
    """A before-validator turning user text into an SI float of ``kind`` with a sign rule."""

    def parse(value: object, info: ValidationInfo) -> float:
        si = bool(info.context and info.context.get("si"))
        if si and isinstance(value, int | float) and not isinstance(value, bool):
            result = float(value)
        else:
            try:
                result = parse_quantity(value, kind, info.field_name or "value")
            except UnitError as exc:
                raise ValueError(_explain(value, kind, exc.problem)) from None
        if sign == "positive" and not result > 0:
            raise ValueError(f"{value!r} must be greater than zero")
        if sign == "nonnegative" and result < 0:
            raise ValueError(f"{value!r} must not be negative")
        ceiling = _CEILINGS.get(kind)
        if ceiling is not None and abs(result) > ceiling[0]:
            raise ValueError(f"{value!r} is beyond the limit of {ceiling[1]}")
        return result

    return parse


def _explain(value: object, kind: str, problem: str) -> str:
    """One phrase for a unit problem, e.g. "cannot parse '4.2 VV' as a voltage (...)"."""
    prefix = "cannot parse as a quantity ("
    if problem.startswith(prefix):
        return f"cannot parse {value!r} as a {_label(kind)} ({problem[len(prefix) : -1]})"
    return f"{value!r} is not a valid {_label(kind)}: {problem}"


def quantity(kind: str, sign: str | None = None):
    """Annotated float field of physical ``kind``; ``sign`` is None, 'positive' or 'nonnegative'."""
    return Annotated[float, BeforeValidator(_quantity_parser(kind, sign))]


Time = quantity("time", "nonnegative")
Duration = quantity("time", "positive")
Voltage = quantity("voltage")
PositiveVoltage = quantity("voltage", "positive")
Current = quantity("current")
PositiveCurrent = quantity("current", "positive")
CurrentDensity = quantity("current_density")
PositiveCurrentDensity = quantity("current_density", "positive")
Charge = quantity("charge", "positive")
ArealCapacity = quantity("areal_capacity", "positive")
Pressure = quantity("pressure", "nonnegative")
PressureRate = quantity("pressure_rate", "positive")
Temperature = quantity("temperature", "positive")
Area = quantity("area", "positive")
Length = quantity("length", "positive")
VoltageRate = quantity("voltage_rate", "positive")
Frequency = quantity("frequency", "positive")
ArealMass = quantity("areal_mass", "positive")
Mass = quantity("mass", "positive")
SpecificCapacity = quantity("specific_capacity", "positive")
#: a share in (0, 1]: '80 %' or 0.8
Fraction = Annotated[
    float, BeforeValidator(_quantity_parser("dimensionless", "positive")), Field(le=1.0)
]


def _c_rate(value: object) -> float:
    """A C-rate: a number (0.1), '0.1 C', '-0.2C' or 'C/10'; the sign is the current's."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        rate = float(value)
    elif isinstance(value, str):
        text = value.replace(" ", "")
        frac = re.fullmatch(r"([+-]?)C/(\d+(?:\.\d*)?)", text)
        plain = re.fullmatch(r"([+-]?\d*\.?\d+(?:[eE][+-]?\d+)?)C", text)
        if frac:
            rate = float(f"{frac.group(1)}1") / float(frac.group(2))
        elif plain:
            rate = float(plain.group(1))
        else:
            raise ValueError(f"expected a C-rate such as '0.1 C' or 'C/10', got {value!r}")
    else:
        raise ValueError(f"expected a C-rate such as '0.1 C' or 'C/10', got {value!r}")
    if not (math.isfinite(rate) and rate != 0):
        raise ValueError(f"a C-rate must be finite and non-zero, got {value!r}")
    return rate


#: C-rate in 1/h of the sample's nominal capacity (signed like a current)
CRate = Annotated[float, BeforeValidator(_c_rate)]

#: a repetition count: 1 … MAX_COUNT
Count = Annotated[int, Field(ge=1, le=MAX_COUNT)]
#: a name or label: at most MAX_NAME_LENGTH characters
Name = Annotated[str, Field(max_length=MAX_NAME_LENGTH)]
