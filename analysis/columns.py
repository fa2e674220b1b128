"""Units and display of summary columns: one table says each column's unit, one function tidies.

Columns whose name already ends in a unit (``duration_s``, ``li_loss_C``, ``pressure_mean_Pa``,
``front_travel_px`` ...) keep it; the others are listed in :data:`UNITS`. The units go to
``summary_units.csv`` next to ``summary.csv``, the parquet schema metadata and the report.
"""

from __future__ import annotations

import re

import pandas as pd

#: Units of summary columns whose name does not end in one ("" = dimensionless).
UNITS: dict[str, str] = {
    "ccd_j_crit": "A/m2",
    "ccd_j_last_pass": "A/m2",
    "ccd_j_soft_onset": "A/m2",
    "eta_plate_median": "V",
    "eta_strip_median": "V",
    "hysteresis_median": "V",
    "asr_plate_median": "ohm m2",
    "asr_strip_median": "ohm m2",
    "r_ohm_median": "ohm",
    "r_int_median": "ohm",
    "void_onset_time": "s",
    "void_onset_j": "A/m2",
    "void_onset_confidence": "",
    "hard_short_time": "s",
    "soft_short_time": "s",
    "ce_mean": "",
    "ce_median": "",
    "ce_min": "",
    "ce_cumulative": "",
    "ce_reservoir": "",
    "growth_exponent": "",
    "resistance_trend_rho": "",
    "filling_efficiency": "",
    "eta_pressure_pearson_r": "",
    "eta_pressure_spearman_rho": "",
    "capacity_retention": "",
    "energy_efficiency_mean": "",
    "ce_first": "",
    "counter_max_deviation": "",
}
#: Units of step, cycle and event table columns (``analysis.segment``, ``analysis.capacity``).
TABLE_UNITS: dict[str, str] = {
    **{c: "s" for c in ("time", "start_time", "end_time", "duration")},
    **{
        c: "C"
        for c in ("charge", "counter_charge", "q_plate", "q_strip", "q_charge", "q_discharge")
    },  # fmt: skip
    **{c: "J" for c in ("energy", "e_charge", "e_discharge")},
    **{
        c: "V"
        for c in (
            "v_start",
            "v_end",
            "v_min",
            "v_max",
            "eta_plateau",
            "eta_peak",
            "eta_end",
            "eta_nucleation",
            "eta_plate",
            "eta_strip",
            "hysteresis",
            "v_charge_mean",
            "v_discharge_mean",
            "polarization",
        )
    },  # fmt: skip
    **{c: "A/m2" for c in ("mean_j", "j_plate", "j_strip", "j")},
    **{c: "ohm m2" for c in ("asr", "asr_plate", "asr_strip")},
    "mean_current": "A",
    "pressure": "Pa",
    "temperature": "K",
}

#: Trailing unit tokens of self-describing column names.
_SUFFIX = re.compile(r"_(?P<u>m2|m|s|C|C_m2|Pa|V|A|K|J|ohm|px|px_s|m_s|V_per_Pa|A_m2|ohm_m2)$")
_SUFFIX_UNITS = {
    "C_m2": "C/m2",
    "px_s": "px/s",
    "m_s": "m/s",
    "A_m2": "A/m2",
    "ohm_m2": "ohm m2",
    "V_per_Pa": "V/Pa",
}

#: Count columns: integers (nullable, so failed rows stay empty rather than turning them float).
_COUNTS = re.compile(r"^n_|_cycle$")


def unit_of(column: str) -> str:
    """Unit of a summary column ('' when dimensionless, text or a count)."""
    if column in UNITS:
        return UNITS[column]
    if column in TABLE_UNITS:
        return TABLE_UNITS[column]
    m = _SUFFIX.search(column)
    return _SUFFIX_UNITS.get(m["u"], m["u"]) if m else ""


def tidy(table: pd.DataFrame) -> pd.DataFrame:
    """Counts as integers; floats rounded to 10 significant digits (drops float noise such as
    44.99999999998 but keeps every meaningful digit)."""
    out = table.copy()
    for col in out.columns:
        if _COUNTS.search(col) and pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].round().astype("Int64")
        elif pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].map(lambda v: float(f"{v:.10g}"))
    return out


def units_table(columns: list[str]) -> pd.DataFrame:
    """(column, unit) for every summary column, for summary_units.csv."""
    return pd.DataFrame({"column": columns, "unit": [unit_of(c) for c in columns]})
