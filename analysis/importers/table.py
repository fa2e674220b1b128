"""Column maps: turn a cycler's table into our electro stream (SI units, our current sign).

A :class:`ColumnMap` names, for each of our fields, candidate quantities as (name, default unit):
``("Current", "A")`` fits ``Current``, ``Current(A)``, ``Current (mA)`` and ``Current [uA]``
alike (the header's unit wins over the default). Values are converted with pint. A missing
column, a cell that is not a number or time, or an unknown unit raises :class:`AnalysisError`
naming the file, the line and the column; suggestions for a missing column are ranked by meaning.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.importers.names import norm, pint_unit, split_header, suggest

#: Our field -> SI unit for conversion (index fields have none; ``unix_time`` is a date-time).
FIELD_UNITS: dict[str, str | None] = {
    "time": "s",
    "voltage": "V",
    "current": "A",
    "step": None,
    "cycle": None,
    "q_charge": "C",
    "q_discharge": "C",
    "q_step": "C",
    "unix_time": "datetime",
}
REQUIRED = ("time", "voltage", "current")
#: Fields a user map may give (the counters come from vendor maps only).
USER_FIELDS = ("time", "voltage", "current", "step", "cycle")
#: Unit words for text times: h:mm:ss clocks and calendar date-times.
CLOCK, DATETIME = "clock", "datetime"


@dataclass
class ColumnMap:
    """Candidate quantities per field as ``{field: [(name, unit), ...]}`` plus sign handling.

    ``state`` optionally names the columns (first present wins) whose letters give the current
    sign (Maccor exports unsigned amps with C/D/R states): ``state_signs`` maps a state's first letter to ±1/0.
    """

    name: str
    columns: dict[str, list[tuple[str, str | None]]]
    sign: float = 1.0
    state: tuple[str, ...] = ()
    state_signs: dict[str, float] = field(default_factory=dict)

    def resolve(self, available: list[str], where: str) -> dict[str, tuple[str, str | None]]:
        """Pick the present candidate per field; the error lists what is missing and the
        columns that may hold it (same meaning first)."""
        chosen: dict[str, tuple[str, str | None]] = {}
        full = {norm(c): c for c in available}
        base = {}
        for c in available:
            b, u = split_header(c)
            base.setdefault(norm(b), (c, u))
        for fld, candidates in self.columns.items():
            for col, unit in candidates:
                if norm(col) in full:
                    header = full[norm(col)]
                    chosen[fld] = (header, unit or split_header(header)[1])
                    break
                if norm(col) in base:
                    header, header_unit = base[norm(col)]
                    chosen[fld] = (header, header_unit or unit)
                    break
        missing = [f for f in REQUIRED if f not in chosen]
        if missing:
            hints = []
            for f in missing:
                wanted = [c for c, _ in self.columns.get(f, [])]
                near = suggest(f, wanted, available)
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


def _factor(unit: str, target: str, where: str, column: str) -> float:
    """Multiplier from ``unit`` to the SI ``target`` (pint), e.g. mA -> A = 1e-3."""
    from daq.units import ureg

    try:
        return float(ureg.Quantity(1.0, pint_unit(unit)).to(target).magnitude)
    except Exception as exc:  # pint raises several unrelated types
        raise AnalysisError(
            f"{where}: column {column!r}: cannot convert unit {unit!r} to {target} ({exc})"
        ) from None


def _line(lines: np.ndarray | None, k: int, header_lines: int) -> int:
    return int(lines[k]) if lines is not None else header_lines + k + 1


def _numeric(
    raw: pd.Series, where: str, column: str, lines: np.ndarray | None, header_lines: int = 1
) -> np.ndarray:
    """Column as floats; the first non-numeric cell is reported with its file line number."""
    if pd.api.types.is_numeric_dtype(raw):
        return raw.to_numpy(dtype=float)
    text = raw.astype(str).str.strip()
    values = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
    bad = values.isna() & ~text.isin(["", "nan", "NaN"])
    if bad.any():
        k = int(np.flatnonzero(bad.to_numpy())[0])
        raise AnalysisError(
            f"{where}:{_line(lines, k, header_lines)}: column {column!r}: {text.iat[k]!r} is not a number"
        )
    return values.to_numpy(dtype=float)


_CLOCK = re.compile(r"^(?:(\d+)[-d]\s*)?(\d+):(\d+):(\d+(?:[.,]\d+)?)$")


def _clock_seconds(raw: pd.Series, where: str, column: str, lines: np.ndarray | None) -> np.ndarray:
    """Times like '1:02:03.5' or '1-02:03:04' (Neware) or plain seconds, as float seconds."""
    if pd.api.types.is_numeric_dtype(raw):
        return raw.to_numpy(dtype=float)
    text = raw.astype(str).str.strip()
    if not text.str.contains(":").any():
        return _numeric(raw, where, column, lines)
    parts = text.str.extract(_CLOCK.pattern)
    bad = parts[1].isna()
    if bad.any():
        k = int(np.flatnonzero(bad.to_numpy())[0])
        raise AnalysisError(
            f"{where}:{_line(lines, k, 1)}: column {column!r}: {text.iat[k]!r} is not a time (h:mm:ss)"
        )
    days = pd.to_numeric(parts[0]).fillna(0.0)
    secs = pd.to_numeric(parts[3].str.replace(",", ".", regex=False))
    return (
        days * 86400 + pd.to_numeric(parts[1]) * 3600 + pd.to_numeric(parts[2]) * 60 + secs
    ).to_numpy(float)


def datetime_seconds(
    raw: pd.Series, where: str, column: str, lines: np.ndarray | None
) -> np.ndarray:
    """Date-time text (or Excel date cells) as Unix seconds; month-first unless only day-first
    gives a time that never runs backwards. The first unreadable cell is named by line."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = pd.Series(raw)
    else:
        text = raw.astype(str).str.strip()
        parsed = None
        first_bad = (0, text.iat[0] if len(text) else "")
        tries = [{}, {"dayfirst": True}, {"format": "mixed"}, {"format": "mixed", "dayfirst": True}]
        for how in tries:  # one inferred format is fast; 'mixed' parses cell by cell
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # "could not infer format"
                    attempt = pd.to_datetime(text, errors="coerce", **how)
            except (ValueError, TypeError):
                continue
            bad = attempt.isna().to_numpy()
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                first_bad = max(first_bad, (k, text.iat[k]))  # the furthest any format got
                continue
            if parsed is None or not np.all(np.diff(parsed.to_numpy().astype("int64")) >= 0):
                parsed = attempt
            if np.all(np.diff(parsed.to_numpy().astype("int64")) >= 0):
                break
        if parsed is None:
            k, cell = first_bad
            raise AnalysisError(
                f"{where}:{_line(lines, k, 1)}: column {column!r}: {cell!r} is not a date-time"
            )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed.to_numpy().astype("datetime64[ns]").astype("int64") / 1e9


def _time_values(
    raw: pd.Series, unit: str | None, where: str, col: str, lines: np.ndarray | None
) -> np.ndarray:
    """Test time in seconds from numbers (with unit), h:mm:ss clocks or date-times."""
    if unit == DATETIME:
        t = datetime_seconds(raw, where, col, lines)
        return t - t[0] if t.size else t
    if unit == CLOCK or (unit and ":" in unit):
        return _clock_seconds(raw, where, col, lines)
    if pd.api.types.is_datetime64_any_dtype(raw):
        t = datetime_seconds(raw, where, col, lines)
        return t - t[0] if t.size else t
    text = raw.astype(str).str.strip()
    if not pd.api.types.is_numeric_dtype(raw) and text.str.contains(":").any():
        if text.str.match(_CLOCK.pattern).all():
            return _clock_seconds(raw, where, col, lines)
        t = datetime_seconds(raw, where, col, lines)
        return t - t[0] if t.size else t
    values = _numeric(raw, where, col, lines)
    if unit and unit not in ("s",):
        values = values * _factor(unit, "s", where, col)
    return values


def apply_map(
    table: pd.DataFrame,
    cmap: ColumnMap,
    where: str,
    *,
    lines: np.ndarray | None = None,
    header_lines: int = 1,
    invert_current: bool = False,
) -> pd.DataFrame:
    """Build the electro stream (time, voltage, current[, step, cycle, counters]) from a table."""
    if lines is None:
        lines = np.arange(len(table)) + header_lines + 1
    chosen = cmap.resolve([str(c) for c in table.columns], where)
    out: dict[str, np.ndarray] = {}
    units: dict[str, str] = {}
    notes: list[str] = []
    for fld, (col, unit) in chosen.items():
        raw = table[col]
        target = FIELD_UNITS.get(fld)
        if fld == "time":
            values = _time_values(raw, unit, where, col, lines)
        elif target == DATETIME:
            try:
                values = (
                    _numeric(raw, where, col, lines)
                    if unit == "s"
                    else datetime_seconds(raw, where, col, lines)
                )
            except AnalysisError as exc:  # an optional clock column: keep the data, say so
                notes.append(f"date-time column {col!r} not used: {exc}")
                continue
        else:
            values = _numeric(raw, where, col, lines)
            if target is not None and unit not in (None, target):
                values = values * _factor(unit, target, where, col)
        if target is None:
            if np.isnan(values).any():
                k = int(np.flatnonzero(np.isnan(values))[0])
                raise AnalysisError(f"{where}:{lines[k]}: column {col!r}: empty {fld} index")
            values = values.astype(np.int64)
        out[fld] = values
        units[fld] = "s" if target == DATETIME else (target or "")
    sign = cmap.sign * (-1.0 if invert_current else 1.0)
    if cmap.state:
        states = _state_signs(table, cmap, where, lines)
        out["current"] = np.abs(out["current"]) * states
    out["current"] = out["current"] * sign
    df = pd.DataFrame(out)
    df.attrs["units"] = units
    df.attrs["columns"] = {fld: col for fld, (col, _u) in chosen.items() if fld in out}
    df.attrs["warnings"] = notes
    return df


def _state_signs(table: pd.DataFrame, cmap: ColumnMap, where: str, lines: np.ndarray) -> np.ndarray:
    """Current sign per row from a state column (e.g. Maccor C/D/R)."""
    wanted = {norm(s) for s in cmap.state}
    col = next((c for c in table.columns if norm(c) in wanted), None)
    if col is None:
        raise AnalysisError(
            f"{where}: {cmap.name} export needs a {' or '.join(map(repr, cmap.state))} column "
            "for the current sign"
        )
    first = table[col].astype(str).str.strip().str[:1].str.upper()
    signs = first.map(cmap.state_signs)
    if signs.isna().any():
        k = int(np.flatnonzero(signs.isna().to_numpy())[0])
        raise AnalysisError(
            f"{where}:{lines[k]}: column {col!r}: unknown state {table[col].iat[k]!r} "
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
            "'clock' for h:mm:ss text or 'datetime' for calendar date-times"
        )


def parse_user_map(text: str, where: str = "--map") -> ColumnMap:
    """``"time=Time (h):h, voltage=E:V, current=I:mA, step=Step"`` -> ColumnMap.

    Each item is ``field=column[:unit]``; ``:clock`` reads h:mm:ss times, ``:datetime`` calendar
    date-times (seconds from the first row). Fields: time, voltage, current (required), step,
    cycle.
    """
    columns: dict[str, list[tuple[str, str | None]]] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in item:
            raise AnalysisError(f"{where}: {item!r} is not field=column[:unit]")
        fld, _, rest = item.partition("=")
        fld = fld.strip()
        if fld not in USER_FIELDS:
            raise AnalysisError(f"{where}: unknown field {fld!r} (known: {', '.join(USER_FIELDS)})")
        col, sep, unit = rest.rpartition(":") if ":" in rest else (rest, "", "")
        col, unit = (col.strip(), unit.strip()) if sep else (rest.strip(), "")
        if not unit and FIELD_UNITS[fld] is not None:
            raise AnalysisError(
                f"{where}: field {fld!r} needs a unit, e.g. {fld}={col}:{FIELD_UNITS[fld]}"
            )
        if fld == "time" and unit and unit not in (CLOCK, DATETIME):
            _check_time_unit(unit, where)
        columns[fld] = [(col, unit or None)]
    missing = [f for f in REQUIRED if f not in columns]
    if missing:
        raise AnalysisError(f"{where}: the map must give {', '.join(missing)}")
    return ColumnMap("user", columns)
