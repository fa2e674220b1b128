"""BioLogic EC-Lab text exports (``.mpt``): header block, tab-separated table, decimal commas.

EC-Lab numbers cycles from 0 and cycle 0 is a real cycle (often the formation cycle), so the
numbers are kept as they are. EC-Lab's sign is ours already (I > 0 oxidation at the working
electrode). The header may give the electrode area ("Electrode surface area : 1.000 cm²"),
used when the user gives none. EC-Lab's CSV/text exports without the header block go through
the same column map (see :mod:`analysis.importers.cyclers`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from analysis.errors import AnalysisError
from analysis.importers.cyclers import BIOLOGIC_MAP, read_cycler
from analysis.importers.text import decode, read_delimited

_HEADER_LINES = re.compile(r"Nb header lines\s*:\s*(\d+)", re.IGNORECASE)
_AREA = re.compile(r"Electrode surface area\s*:\s*([\d.,]+)\s*(\S+)", re.IGNORECASE)


def is_mpt(path: Path) -> bool:
    """An EC-Lab ASCII export (by its first line, whatever the suffix)."""
    with path.open("rb") as fh:
        return fh.read(17) == b"EC-Lab ASCII FILE"


def read_mpt(path: Path, *, invert_current: bool = False) -> tuple[pd.DataFrame, dict]:
    """Electro stream and header facts (``area_m2`` when stated) from an EC-Lab ``.mpt`` file."""
    where = str(path)
    text, _encoding = decode(path)
    lines = text.splitlines()
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
    table = read_delimited(path, header_index=n_header - 1, sep="\t")
    electro = read_cycler(path, BIOLOGIC_MAP, invert_current=invert_current, table=table)
    facts: dict = {}
    am = _AREA.search("\n".join(lines[:n_header]))
    if am:
        from daq.units import parse_quantity

        unit = am.group(2).replace("²", "2")
        facts["area_m2"] = parse_quantity(
            f"{am.group(1).replace(',', '.')} {unit}", "area", "Electrode surface area"
        )
    return electro, facts
