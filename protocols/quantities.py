"""Pydantic field types that read unit strings ("0.1 mA/cm2", "5 MPa") into SI floats.

At the edge (YAML, Python builder) a bare number for a dimensional field is refused: it is
ambiguous. Normalized JSON (stored in run files, produced by templates) holds SI floats, so
validating with ``context={"si": True}`` accepts plain numbers as SI values.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, ValidationInfo

from daq.units import UnitError, parse_quantity

SI_CONTEXT = {"si": True}


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
