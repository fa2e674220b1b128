"""Display units: the one table that says how each quantity is shown to people.

Inside files and the analysis everything is SI (A/m², C, Ω m², m, Pa, K, s). Reports, the
summary CSV/Parquet, the CLI and the GUI show the field's units: J in mA cm⁻², capacity in mAh,
areal capacity in mAh cm⁻², ASR in Ω cm², thickness in µm, pressure in MPa, temperature in °C,
CE in %, time in h or s as fits. Conversions go through pint (``daq.units.ureg``); values are
rounded to the digits they carry (:data:`Display.digits`). Column names carry the unit:
``ccd_j_crit`` -> ``ccd_j_crit_mA_cm2``, ``li_loss_m`` -> ``li_loss_um``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from analysis.columns import unit_of


@dataclass(frozen=True)
class Display:
    """How one quantity is shown: pint units (SI -> display), name suffix, label, precision.

    ``digits`` are significant digits, or decimals when ``decimals`` is True (CE in %).
    """

    si: str
    unit: str
    suffix: str
    label: str
    digits: int = 4
    decimals: bool = False


#: Quantity -> display. ``time`` has two forms chosen by size (see :func:`time_display`).
QUANTITIES: dict[str, Display] = {
    "current_density": Display("A/m**2", "mA/cm**2", "mA_cm2", "mA cm⁻²"),
    "areal_capacity": Display("C/m**2", "mA*h/cm**2", "mAh_cm2", "mAh cm⁻²"),
    "charge": Display("C", "mA*h", "mAh", "mAh"),
    "current": Display("A", "mA", "mA", "mA"),
    "energy": Display("J", "mW*h", "mWh", "mWh"),
    "area_resistance": Display("ohm*m**2", "ohm*cm**2", "ohm_cm2", "Ω cm²"),
    "resistance": Display("ohm", "ohm", "ohm", "Ω"),
    "length": Display("m", "um", "um", "µm"),
    "area": Display("m**2", "cm**2", "cm2", "cm²"),
    "pressure": Display("Pa", "MPa", "MPa", "MPa"),
    "temperature": Display("K", "degC", "degC", "°C", digits=1, decimals=True),
    "voltage": Display("V", "V", "V", "V"),
    "overpotential": Display("V", "mV", "mV", "mV"),
    "velocity": Display("m/s", "um/s", "um_s", "µm s⁻¹"),
    "ratio": Display("", "percent", "pct", "%", digits=2, decimals=True),
    "time_s": Display("s", "s", "s", "s"),
    "time_h": Display("s", "h", "h", "h"),
}
#: SI unit (as :func:`analysis.columns.unit_of` gives it) -> quantity.
_BY_SI_UNIT = {
    "A/m2": "current_density",
    "C/m2": "areal_capacity",
    "C": "charge",
    "A": "current",
    "J": "energy",
    "ohm m2": "area_resistance",
    "ohm": "resistance",
    "m": "length",
    "m2": "area",
    "Pa": "pressure",
    "K": "temperature",
    "V": "voltage",
    "m/s": "velocity",
    "s": "time_s",
}
#: Dimensionless columns shown in % (efficiencies, retention); other plain numbers stay as is.
_RATIO = re.compile(
    r"^(ce(_|$)|.*_ce$|capacity_retention|energy_efficiency|filling_efficiency|counter_max_deviation)"
)
#: Voltages that are overpotentials (shown in mV).
_OVERPOTENTIAL = re.compile(r"^(eta|hysteresis)")
#: Spans from this many seconds on are shown in hours.
HOURS_FROM_S = 3 * 3600.0


@cache
def _factor(si: str, unit: str) -> float:
    from daq.units import ureg

    return float(ureg.Quantity(1.0, si or "dimensionless").to(unit).magnitude)


def convert(values, quantity: str):
    """SI value(s) -> display unit (pint; offsets such as K -> °C handled)."""
    d = QUANTITIES[quantity]
    if quantity == "temperature":
        from daq.units import ureg

        return ureg.Quantity(np.asarray(values, dtype=float), "K").to("degC").magnitude
    return np.asarray(values, dtype=float) * _factor(d.si, d.unit)


def to_si(values, quantity: str):
    """Display unit value(s) -> SI (the inverse of :func:`convert`)."""
    d = QUANTITIES[quantity]
    if quantity == "temperature":
        from daq.units import ureg

        return ureg.Quantity(np.asarray(values, dtype=float), "degC").to("K").magnitude
    return np.asarray(values, dtype=float) / _factor(d.si, d.unit)


def round_meaningful(value: float, quantity: str) -> float:
    """Round to the quantity's significant digits (or decimals): no float noise."""
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value == 0:
        return value
    d = QUANTITIES[quantity]
    if d.decimals:
        return round(float(value), d.digits)
    return float(f"{float(value):.{d.digits}g}")


def quantity_of(column: str, values: pd.Series | None = None) -> str | None:
    """The quantity a summary or table column holds (None: a count, text or plain number)."""
    if _RATIO.match(column):
        return "ratio"
    si = unit_of(column)
    q = _BY_SI_UNIT.get(si)
    if q == "voltage" and _OVERPOTENTIAL.match(column):
        return "overpotential"
    if q == "time_s" and values is not None:
        span = pd.to_numeric(values, errors="coerce").abs()
        if span.notna().any() and float(span.median()) >= HOURS_FROM_S:
            return "time_h"
    return q


def _base_name(column: str) -> str:
    """The column name without its SI unit suffix (``li_loss_C_m2`` -> ``li_loss``)."""
    for suffix in ("_C_m2", "_A_m2", "_ohm_m2", "_px_s", "_m_s", "_V_per_Pa", "_m2", "_m",
                   "_s", "_C", "_Pa", "_V", "_A", "_ohm", "_K", "_J"):  # fmt: skip
        if column.endswith(suffix):
            return column[: -len(suffix)]
    return column


def display_name(column: str, quantity: str) -> str:
    """``ccd_j_crit`` -> ``ccd_j_crit_mA_cm2``; ``r_bulk_ohm`` stays; ``ce_mean`` -> ``ce_mean_pct``."""
    return f"{_base_name(column)}_{QUANTITIES[quantity].suffix}"


def display_table(table: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """A table (summary, steps, cycles) in display units with unit-bearing column names, and
    the unit label of each new column."""
    out = {}
    labels: dict[str, str] = {}
    for col in table.columns:
        values = table[col]
        q = quantity_of(str(col), values) if pd.api.types.is_numeric_dtype(values) else None
        if q is None:
            out[col] = values
            labels[str(col)] = ""
            continue
        name = display_name(str(col), q)
        converted = pd.Series(convert(values.to_numpy(dtype=float), q), index=values.index)
        out[name] = converted.map(lambda v, q=q: round_meaningful(v, q))
        labels[name] = QUANTITIES[q].label
    return pd.DataFrame(out), labels


def display_value(column: str, value: object) -> tuple[str, object, str]:
    """One summary entry in display units: (name, rounded value, unit label)."""
    if not isinstance(value, (int, float, np.floating)) or isinstance(value, bool):
        return column, value, ""
    q = quantity_of(column, pd.Series([value]))
    if q is None:
        return column, value, ""
    shown = round_meaningful(float(convert(float(value), q)), q)
    return display_name(column, q), shown, QUANTITIES[q].label


def format_value(value: object) -> str:
    """Text of a displayed number: no exponent for ordinary sizes, NaN as empty."""
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            return ""
        return f"{value:,.10g}" if abs(value) >= 1e4 else f"{value:.10g}"
    return str(value)
