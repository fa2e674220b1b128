"""BioLogic EC-Lab text exports (``.mpt``): header block, tab-separated table, decimal commas.

EC-Lab numbers cycles from 0; they are shifted to start at 1 (our cycle 0 holds only leading
rests), so the first cycle is not dropped. EC-Lab's sign is ours already (I > 0 oxidation at the working electrode). The header may give
the electrode area ("Electrode surface area : 1.000 cm²"), used when the user gives none.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd

from analysis.errors import AnalysisError
from analysis.importers.table import ColumnMap, apply_map

BIOLOGIC_MAP = ColumnMap(
    "biologic",
    {
        "time": [("time/s", "s")],
        "voltage": [
            ("Ewe/V", "V"),
            ("<Ewe>/V", "V"),
            ("Ecell/V", "V"),
            ("<Ecell>/V", "V"),
            ("Ewe-Ece/V", "V"),
        ],
        "current": [("<I>/mA", "mA"), ("I/mA", "mA"), ("<I>/A", "A"), ("I/A", "A")],
        "step": [("Ns", None)],
        "cycle": [("cycle number", None)],
    },
)

_HEADER_LINES = re.compile(r"Nb header lines\s*:\s*(\d+)", re.IGNORECASE)
_AREA = re.compile(r"Electrode surface area\s*:\s*([\d.,]+)\s*(\S+)", re.IGNORECASE)


def read_mpt(path: Path, *, invert_current: bool = False) -> tuple[pd.DataFrame, dict]:
    """Electro stream and header facts (``area_m2`` when stated) from an EC-Lab ``.mpt`` file."""
    where = str(path)
    raw = path.read_bytes().decode("latin-1")
    lines = raw.splitlines()
    if not lines or not lines[0].startswith("EC-Lab ASCII FILE"):
        raise AnalysisError(
            f"{where}:1: not an EC-Lab ASCII export (first line {lines[0][:40]!r})"
            if lines
            else f"{where}: empty file"
        )
    m = _HEADER_LINES.search("\n".join(lines[:5]))
    if not m:
        raise AnalysisError(f"{where}:2: missing 'Nb header lines : N'")
    n_header = int(m.group(1))
    if n_header > len(lines):
        raise AnalysisError(
            f"{where}: header claims {n_header} lines but the file has {len(lines)}"
        )
    body = "\n".join(lines[n_header - 1 :])
    try:
        table = pd.read_csv(
            io.StringIO(body), sep="\t", decimal=",", dtype=str, keep_default_na=False
        )
    except pd.errors.ParserError as exc:
        raise AnalysisError(f"{where}: cannot parse the data table ({exc})") from None
    table = table.loc[:, [c for c in table.columns if not str(c).startswith("Unnamed")]]
    electro = apply_map(
        table, BIOLOGIC_MAP, where, header_lines=n_header, invert_current=invert_current
    )
    if "cycle" in electro.columns:  # EC-Lab counts cycles from 0; ours start at 1 (0 = lead-in)
        electro["cycle"] = electro["cycle"] - electro["cycle"].min() + 1
    facts: dict = {}
    am = _AREA.search("\n".join(lines[:n_header]))
    if am:
        from daq.units import parse_quantity

        unit = am.group(2).replace("²", "2")
        facts["area_m2"] = parse_quantity(
            f"{am.group(1).replace(',', '.')} {unit}", "area", "Electrode surface area"
        )
    return electro, facts
