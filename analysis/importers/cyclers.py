"""Column maps of the cyclers' documented exports (Arbin, Neware, Maccor, BioLogic text, BDF)
and the readers that put a text or Excel export through one.

Cycler sign: current > 0 is charge, i.e. anodic at the electrode on the positive lead. With
the working electrode on the positive lead that is our convention (I > 0 strips WE); a cell
wired the other way round is imported with ``invert_current``. Capacity counters the files
keep (``q_charge``/``q_discharge``/``q_step``, coulombs) are carried along so the integrated
charge can be checked against them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.importers.names import norm, split_header
from analysis.importers.table import DATETIME, ColumnMap, apply_map
from analysis.importers.text import Table, is_number, read_delimited

ARBIN_MAP = ColumnMap(
    "arbin",
    {
        "time": [("Test Time", "s")],
        "voltage": [("Voltage", "V")],
        "current": [("Current", "A")],
        "step": [("Step Index", None)],
        "cycle": [("Cycle Index", None)],
        "q_charge": [("Charge Capacity", "A*h")],
        "q_discharge": [("Discharge Capacity", "A*h")],
        "unix_time": [("Date Time", DATETIME), ("DateTime", DATETIME)],
    },
)
NEWARE_MAP = ColumnMap(
    "neware",
    {
        "time": [("Total Time", None), ("Realtime", DATETIME), ("Date", DATETIME)],
        "voltage": [("Voltage", "V")],
        "current": [("Current", "A")],
        "step": [("Step Index", None), ("Step ID", None), ("Steps", None)],
        "cycle": [("Cycle Index", None), ("Cycle ID", None), ("Cycle", None)],
        "q_charge": [("Chg. Cap.", "A*h"), ("Capacitance_Chg", "mA*h")],
        "q_discharge": [("DChg. Cap.", "A*h"), ("Capacitance_DChg", "mA*h")],
        "unix_time": [("Date", DATETIME), ("Realtime", DATETIME)],
    },
)
MACCOR_MAP = ColumnMap(
    "maccor",
    {
        "time": [("Test Time", "s"), ("TestTime", "s"), ("Test", "s")],
        "voltage": [("Volts", "V"), ("Voltage", "V")],
        "current": [("Amps", "A"), ("Current", "A")],
        "step": [("Step", None)],
        "cycle": [("Cyc#", None), ("Cycle C", None), ("Cycle", None)],
        "q_step": [("Amp-hr", "A*h"), ("Cap.", "A*h"), ("Capacity", "A*h")],
        "unix_time": [("DPt Time", DATETIME)],
    },
    state=("State", "Md"),
    state_signs={"C": 1.0, "D": -1.0, "R": 0.0, "O": 0.0, "S": 0.0},
)
BIOLOGIC_MAP = ColumnMap(
    "biologic",
    {
        "time": [("time", "s"), ("Time", "s")],
        "voltage": [
            ("Ewe", "V"),
            ("<Ewe>", "V"),
            ("Ecell", "V"),
            ("<Ecell>", "V"),
            ("Ewe-Ece", "V"),
        ],
        "current": [("<I>", "mA"), ("I", "mA")],
        "step": [("Ns", None)],
        "cycle": [("cycle number", None)],
        "q_charge": [("Q charge", "mA*h")],
        "q_discharge": [("Q discharge", "mA*h")],
    },
)
BDF_MAP = ColumnMap(
    "bdf",
    {
        "time": [("Test Time / s", "s")],
        "voltage": [("Voltage / V", "V")],
        "current": [("Current / A", "A")],
        "step": [("Step Count / 1", None)],
        "cycle": [("Cycle Count / 1", None)],
        "q_charge": [("Charging Capacity / Ah", "A*h")],
        "q_discharge": [("Discharging Capacity / Ah", "A*h")],
        "unix_time": [("Unix Time / s", "s")],
    },
)
MAPS = {m.name: m for m in (ARBIN_MAP, NEWARE_MAP, MACCOR_MAP, BIOLOGIC_MAP, BDF_MAP)}


def _bases(columns: list[str]) -> set[str]:
    return {norm(split_header(c)[0]) for c in columns}


def sniff_cycler(columns: list[str]) -> str | None:
    """Which instrument wrote a table with these columns (None when unknown)."""
    full = {norm(c) for c in columns}
    bases = _bases(columns)
    if {"test time / s", "voltage / v", "current / a"} <= full:
        return "bdf"
    if {"rec#", "cyc#"} & bases or ({"amp-hr", "state"} <= bases) or {"md", "rec#"} <= bases:
        return "maccor"
    if "test time" in bases and (
        {"step index", "data point", "cycle index"} & bases or {"current", "voltage"} <= bases
    ):
        return "arbin"
    if {"total time", "step type", "cycle id", "chg. cap.", "realtime"} & bases:
        return "neware"
    if {"ns", "ewe"} <= bases or {"ns", "ecell"} <= bases or ({"time", "<i>"} <= bases):
        return "biologic"
    return None


def read_excel_tables(path: Path) -> list[Table]:
    """Each sheet of a workbook that has a header row followed by numeric rows."""
    try:
        sheets = pd.read_excel(path, sheet_name=None, header=None, dtype=object)
    except ImportError as exc:
        raise AnalysisError(f"{path}: reading Excel needs openpyxl ({exc})") from None
    except (ValueError, OSError) as exc:
        raise AnalysisError(f"{path}: cannot read as Excel ({exc})") from None
    out = []
    for raw in sheets.values():
        table = _sheet_table(raw)
        if table is not None:
            out.append(table)
    if not out:
        raise AnalysisError(f"{path}: no sheet has a header row followed by numeric rows")
    return out


def _sheet_table(raw: pd.DataFrame) -> Table | None:
    """The data block of one sheet: the first text row followed by a mostly numeric row."""
    rows = raw.to_numpy()
    for k in range(min(len(rows) - 1, 200)):
        head = [str(h).strip() for h in rows[k] if isinstance(h, str) and h.strip()]
        if len(head) < 3:
            continue
        nxt = rows[k + 1]
        numeric = sum(
            isinstance(c, (int, float))
            and not isinstance(c, bool)
            and c == c
            or isinstance(c, str)
            and is_number(c)
            for c in nxt
        )
        if numeric >= len(head) / 3:
            names = [str(h).strip() if isinstance(h, str) else "" for h in rows[k]]
            keep = [j for j, n in enumerate(names) if n]
            frame = pd.DataFrame(rows[k + 1 :, keep], columns=[names[j] for j in keep])
            frame = frame.dropna(how="all").reset_index(drop=True)
            lines = np.arange(k + 2, k + 2 + len(frame))
            return Table(frame, lines, k + 1, [], "", "")
    return None


def read_tables(path: Path) -> list[Table]:
    """The data tables of an export: one for text files, one per data sheet for workbooks.

    The last file read is kept (by path, size and modification time), so recognising a format
    and then importing it parse the file once.
    """
    st = path.stat()
    return _read_tables(path.resolve(), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=1)
def _read_tables(path: Path, _size: int, _mtime_ns: int) -> list[Table]:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return read_excel_tables(path)
    if suffix == ".parquet":
        return [read_parquet_table(path)]
    return [read_delimited(path)]


def read_parquet_table(path: Path) -> Table:
    """A Parquet file as one table (row k is reported as 'row k + 1')."""
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises its own error types for non-Parquet bytes
        raise AnalysisError(f"{path}: cannot read as Parquet ({exc})") from None
    return Table(frame, np.arange(1, len(frame) + 1), 0, [], "", "")


def pick_table(path: Path, tables: list[Table]) -> tuple[Table, str | None]:
    """The largest table whose columns a known instrument wrote (else the largest one)."""
    known = [(t, sniff_cycler(list(t.frame.columns))) for t in tables]
    fitting = [(t, f) for t, f in known if f is not None] or [(t, None) for t in tables]
    return max(fitting, key=lambda tf: tf[0].frame.size)


def read_cycler(
    path: Path, cmap: ColumnMap, *, invert_current: bool = False, table: Table | None = None
) -> pd.DataFrame:
    """Electro stream from a cycler export through ``cmap``."""
    if table is None:
        table, _ = pick_table(path, read_tables(path))
    electro = apply_map(
        table.frame, cmap, str(path), lines=table.lines, invert_current=invert_current
    )
    electro.attrs["encoding"] = table.encoding
    electro.attrs["title"] = table.title
    return electro
