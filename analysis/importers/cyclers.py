"""Arbin, Neware and Maccor exports (CSV or Excel) through column maps, and generic CSV.

Cycler sign: current > 0 is charge, i.e. anodic at the electrode on the positive lead. With
the working electrode on the positive lead that is our convention (I > 0 strips WE); a cell
wired the other way round is imported with ``invert_current``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from analysis.errors import AnalysisError
from analysis.importers.table import ColumnMap, apply_map

ARBIN_MAP = ColumnMap(
    "arbin",
    {
        "time": [("Test_Time(s)", "s"), ("Test Time (s)", "s"), ("Test_Time", "s")],
        "voltage": [("Voltage(V)", "V"), ("Voltage (V)", "V")],
        "current": [("Current(A)", "A"), ("Current (A)", "A"), ("Current(mA)", "mA")],
        "step": [("Step_Index", None), ("Step Index", None)],
        "cycle": [("Cycle_Index", None), ("Cycle Index", None)],
    },
)
NEWARE_MAP = ColumnMap(
    "neware",
    {
        "time": [("Total Time", "clock"), ("Total Time(s)", "s"), ("Test Time", "clock")],
        "voltage": [("Voltage(V)", "V"), ("Voltage", "V")],
        "current": [("Current(mA)", "mA"), ("Current(A)", "A"), ("Current(uA)", "uA")],
        "step": [("Step ID", None), ("Step Index", None), ("Steps", None)],
        "cycle": [("Cycle ID", None), ("Cycle Index", None), ("Cycle", None)],
    },
)
MACCOR_MAP = ColumnMap(
    "maccor",
    {
        "time": [("Test (Sec)", "s"), ("TestTime", "s"), ("Test Time (sec)", "s")],
        "voltage": [("Volts", "V"), ("Voltage", "V")],
        "current": [("Amps", "A"), ("Current", "A")],
        "step": [("Step", None)],
        "cycle": [("Cyc#", None), ("Cycle", None)],
    },
    state="State",
    state_signs={"C": 1.0, "D": -1.0, "R": 0.0, "O": 0.0, "S": 0.0},
)
MAPS = {"arbin": ARBIN_MAP, "neware": NEWARE_MAP, "maccor": MACCOR_MAP}


def read_table(path: Path) -> tuple[pd.DataFrame, int]:
    """Rows of a CSV/TSV (delimiter sniffed) or the first fitting Excel sheet; and header lines."""
    where = str(path)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        try:
            sheets = pd.read_excel(path, sheet_name=None, dtype=object)
        except ImportError as exc:
            raise AnalysisError(f"{where}: reading Excel needs openpyxl ({exc})") from None
        except ValueError as exc:
            raise AnalysisError(f"{where}: cannot read as Excel ({exc})") from None
        best = max(sheets.values(), key=lambda df: df.shape[0] * df.shape[1], default=None)
        if best is None or best.empty:
            raise AnalysisError(f"{where}: the workbook has no data sheet")
        return best, 1
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
        head = fh.read(65536)
    if not head.strip():
        raise AnalysisError(f"{where}: empty file")
    try:
        dialect = csv.Sniffer().sniff(head.splitlines()[0], delimiters=",;\t")
        sep = dialect.delimiter
    except csv.Error:
        sep = ","
    try:
        table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise AnalysisError(f"{where}: cannot parse as delimited text ({exc})") from None
    return table, 1


def sniff_cycler(columns: list[str]) -> str | None:
    """Which cycler wrote a table with these columns (None when unknown)."""
    names = {c.strip().lower() for c in map(str, columns)}
    if {"test_time(s)", "step_index"} & names:
        return "arbin"
    if {"rec#", "test (sec)"} & names:
        return "maccor"
    if {"total time", "step type", "cycle id"} & names:
        return "neware"
    return None


def read_cycler(path: Path, cmap: ColumnMap, *, invert_current: bool = False) -> pd.DataFrame:
    """Electro stream from a cycler export through ``cmap``."""
    table, header = read_table(path)
    return apply_map(table, cmap, str(path), header_lines=header, invert_current=invert_current)
