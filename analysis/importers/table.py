"""Column maps: turn a cycler's table into our electro stream (SI units, our current sign).

A :class:`ColumnMap` names, for each of our fields, the candidate source columns (first present
wins) and their unit. Values are converted with pint; a missing column, a non-numeric cell or an
unknown unit raises :class:`AnalysisError` naming the file, the line and the column.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError

#: Our field -> SI unit for conversion (index fields have none).
FIELD_UNITS = {"time": "s", "voltage": "V", "current": "A", "step": None, "cycle": None}
REQUIRED = ("time", "voltage", "current")


@dataclass
class ColumnMap:
    """Source columns per field as ``{field: [(column, unit), ...]}`` plus sign handling.

    ``state`` optionally names a column whose letters give the current sign (Maccor exports
    unsigned amps with C/D/R states): ``state_signs`` maps a state's first letter to ±1/0.
    """

    name: str
    columns: dict[str, list[tuple[str, str | None]]]
    sign: float = 1.0
    state: str | None = None
    state_signs: dict[str, float] = field(default_factory=dict)

    def resolve(self, available: list[str], where: str) -> dict[str, tuple[str, str | None]]:
        """Pick the present candidate per field; error lists what is missing and near misses."""
        chosen: dict[str, tuple[str, str | None]] = {}
        norm = {_norm(c): c for c in available}
        for fld, candidates in self.columns.items():
            for col, unit in candidates:
                if _norm(col) in norm:
                    chosen[fld] = (norm[_norm(col)], unit)
                    break
        missing = [f for f in REQUIRED if f not in chosen]
        if missing:
            hints = []
            for f in missing:
                wanted = [c for c, _ in self.columns.get(f, [])]
                near = (
                    difflib.get_close_matches(wanted[0], available, n=3, cutoff=0.4)
                    if wanted
                    else []
                )
                hints.append(
                    f"{f} (looked for {', '.join(repr(w) for w in wanted) or 'nothing'}"
                    + (f"; similar: {', '.join(repr(n) for n in near)}" if near else "")
                    + ")"
                )
            raise AnalysisError(
                f"{where}: {self.name} column map does not fit this file: missing "
                + "; ".join(hints)
                + f". Columns in the file: {', '.join(map(repr, available))}"
            )
        return chosen


def _norm(name: str) -> str:
    return re.sub(r"\s+", " ", str(name)).strip().lower()


def _factor(unit: str, target: str, where: str, column: str) -> float:
    """Multiplier from ``unit`` to the SI ``target`` (pint), e.g. mA -> A = 1e-3."""
    from daq.units import ureg

    try:
        return float(ureg.Quantity(1.0, unit).to(target).magnitude)
    except Exception as exc:  # pint raises several unrelated types
        raise AnalysisError(
            f"{where}: column {column!r}: cannot convert unit {unit!r} to {target} ({exc})"
        ) from None


def _numeric(raw: pd.Series, where: str, column: str, header_lines: int) -> np.ndarray:
    """Column as floats; the first non-numeric cell is reported with its file line number."""
    if pd.api.types.is_numeric_dtype(raw):
        return raw.to_numpy(dtype=float)
    text = raw.astype(str).str.strip()
    values = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
    bad = values.isna() & ~text.isin(["", "nan", "NaN"])
    if bad.any():
        k = int(np.flatnonzero(bad.to_numpy())[0])
        raise AnalysisError(
            f"{where}:{header_lines + k + 1}: column {column!r}: {text.iat[k]!r} is not a number"
        )
    return values.to_numpy(dtype=float)


def _clock_seconds(raw: pd.Series, where: str, column: str, header_lines: int) -> np.ndarray:
    """Times like '1:02:03.5' or '1-02:03:04' (Neware) or plain seconds, as float seconds."""
    if pd.api.types.is_numeric_dtype(raw):
        return raw.to_numpy(dtype=float)
    text = raw.astype(str).str.strip()
    if not text.str.contains(":").any():
        return _numeric(raw, where, column, header_lines)
    parts = text.str.extract(r"^(?:(\d+)-)?(\d+):(\d+):(\d+(?:[.,]\d+)?)$")
    bad = parts[1].isna()
    if bad.any():
        k = int(np.flatnonzero(bad.to_numpy())[0])
        raise AnalysisError(
            f"{where}:{header_lines + k + 1}: column {column!r}: {text.iat[k]!r} is not a time (h:mm:ss)"
        )
    days = pd.to_numeric(parts[0]).fillna(0.0)
    secs = pd.to_numeric(parts[3].str.replace(",", ".", regex=False))
    return (
        days * 86400 + pd.to_numeric(parts[1]) * 3600 + pd.to_numeric(parts[2]) * 60 + secs
    ).to_numpy(float)


def apply_map(
    table: pd.DataFrame,
    cmap: ColumnMap,
    where: str,
    *,
    header_lines: int = 1,
    invert_current: bool = False,
) -> pd.DataFrame:
    """Build the electro stream (time, voltage, current[, step, cycle]) from a source table."""
    chosen = cmap.resolve([str(c) for c in table.columns], where)
    out: dict[str, np.ndarray] = {}
    units: dict[str, str] = {}
    for fld, (col, unit) in chosen.items():
        raw = table[col]
        if fld == "time" and unit == "clock":
            values = _clock_seconds(raw, where, col, header_lines)
        else:
            values = _numeric(raw, where, col, header_lines)
        target = FIELD_UNITS.get(fld)
        if target is not None and unit not in (None, "clock", target):
            values = values * _factor(unit, target, where, col)
        if target is None:
            if np.isnan(values).any():
                k = int(np.flatnonzero(np.isnan(values))[0])
                raise AnalysisError(
                    f"{where}:{header_lines + k + 1}: column {col!r}: empty {fld} index"
                )
            values = values.astype(np.int64)
        out[fld] = values
        units[fld] = target or ""
    sign = cmap.sign * (-1.0 if invert_current else 1.0)
    if cmap.state is not None:
        states = _state_signs(table, cmap, where, header_lines)
        out["current"] = np.abs(out["current"]) * states
    out["current"] = out["current"] * sign
    df = pd.DataFrame(out)
    df.attrs["units"] = units
    return df


def _state_signs(table: pd.DataFrame, cmap: ColumnMap, where: str, header_lines: int) -> np.ndarray:
    """Current sign per row from a state column (e.g. Maccor C/D/R)."""
    col = next((c for c in table.columns if _norm(c) == _norm(cmap.state)), None)
    if col is None:
        raise AnalysisError(
            f"{where}: {cmap.name} export needs a {cmap.state!r} column for the current sign"
        )
    first = table[col].astype(str).str.strip().str[:1].str.upper()
    signs = first.map(cmap.state_signs)
    if signs.isna().any():
        k = int(np.flatnonzero(signs.isna().to_numpy())[0])
        raise AnalysisError(
            f"{where}:{header_lines + k + 1}: column {col!r}: unknown state {table[col].iat[k]!r} "
            f"(known: {', '.join(cmap.state_signs)})"
        )
    return signs.to_numpy(dtype=float)


#: Time units accepted in a map: pint would read e.g. 'hh' as hecto-hours, so be explicit.
TIME_UNITS = {
    "s": "s", "sec": "s", "second": "s", "seconds": "s", "ms": "ms", "us": "us", "µs": "us",
    "min": "min", "minute": "min", "minutes": "min", "h": "h", "hr": "h", "hour": "h",
    "hours": "h", "d": "d", "day": "d", "days": "d",
}  # fmt: skip


def _check_time_unit(unit: str, where: str) -> None:
    """Refuse time units outside :data:`TIME_UNITS` (e.g. 'hh' = hecto-hours to pint)."""
    if unit.lower() not in TIME_UNITS and unit not in TIME_UNITS:
        raise AnalysisError(
            f"{where}: time unit {unit!r} is ambiguous or unknown; use one of s, ms, min, h, d, "
            "or 'clock' for h:mm:ss text"
        )


def parse_user_map(text: str, where: str = "--map") -> ColumnMap:
    """``"time=Time (h):h, voltage=E:V, current=I:mA, step=Step"`` -> ColumnMap.

    Each item is ``field=column[:unit]``; ``:clock`` reads h:mm:ss times. Fields: time, voltage,
    current (required), step, cycle.
    """
    columns: dict[str, list[tuple[str, str | None]]] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in item:
            raise AnalysisError(f"{where}: {item!r} is not field=column[:unit]")
        fld, _, rest = item.partition("=")
        fld = fld.strip()
        if fld not in FIELD_UNITS:
            raise AnalysisError(f"{where}: unknown field {fld!r} (known: {', '.join(FIELD_UNITS)})")
        col, sep, unit = rest.rpartition(":") if ":" in rest else (rest, "", "")
        col, unit = (col.strip(), unit.strip()) if sep else (rest.strip(), "")
        if not unit and FIELD_UNITS[fld] is not None:
            raise AnalysisError(
                f"{where}: field {fld!r} needs a unit, e.g. {fld}={col}:{FIELD_UNITS[fld]}"
            )
        if fld == "time" and unit and unit != "clock":
            _check_time_unit(unit, where)
        columns[fld] = [(col, unit or None)]
    missing = [f for f in REQUIRED if f not in columns]
    if missing:
        raise AnalysisError(f"{where}: the map must give {', '.join(missing)}")
    return ColumnMap("user", columns)
