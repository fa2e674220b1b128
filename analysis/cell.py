"""What kind of cell a run is, which decides its metrics and conventions.

``cathode``: a cell with a cathode (Li-ion, Li|SE|NMC …): capacity, CE = discharge/charge,
energy efficiency, polarization; cycles start with charge. ``li_cu``: anode-free Li|SE|Cu: CE =
strip/plate, cycles start with plating. ``li_li``: symmetric Li|SE|Li: plating/stripping
overpotentials, voids, shorts; cycles start with whatever the protocol does first. The kind
comes from the sample description, else from the voltage window (a Li-metal cell sits within
about ±1 V of Li; a cathode cell at 2.5–4.5 V).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

KINDS = ("cathode", "li_li", "li_cu")
#: Words in a sample description that name a cathode (or a full Li-ion cell).
CATHODE_WORDS = (
    "cathode", "nmc", "ncm", "nca", "lfp", "lco", "lmo", "lnmo", "lmfp", "sulfur", "li-ion",
    "liion", "lithium-ion", "licoo2", "lifepo4", "limn2o4", "v2o5", "tis2", "fes2", "nmc811",
    "nmc622", "nmc532", "nmc111",
)  # fmt: skip
#: Below this 5th-percentile voltage magnitude a cell is Li-metal on both sides (V).
CATHODE_MIN_V = 1.5
#: The cycle start each kind uses unless the user says otherwise (see analysis.segment).
CYCLE_START = {"cathode": "strip", "li_cu": "plate", "li_li": "first", None: "first"}
CE_CONVENTION = {
    "cathode": "CE = discharge / charge (cycles start with charge)",
    "li_cu": "CE = strip / plate (Li|Cu: charge stripped back from Cu over charge plated on it)",
    "li_li": "CE = strip / plate of the working electrode (symmetric cell: near 1 by design)",
    None: "CE = strip / plate of the working electrode",
}


@dataclass(frozen=True)
class CellKind:
    """The kind (one of :data:`KINDS`, or None when unknown) and why it was chosen."""

    kind: str | None
    reason: str


def _words(sample: dict[str, Any]) -> list[str]:
    text = " ".join(
        str(sample.get(k, "")) for k in ("electrodes", "cell", "cathode", "chemistry", "name")
    ).lower()
    return [w for w in re.split(r"[^a-z0-9-]+", text) if w]


def cell_kind(sample: dict[str, Any], electro: pd.DataFrame | None = None) -> CellKind:
    """Classify the cell from the sample description, else the voltage window."""
    words = _words(sample)
    compact = "".join(words)
    for w in CATHODE_WORDS:
        if w in words or (len(w) >= 4 and w in compact):
            return CellKind("cathode", f"sample description names {w!r}")
    if "cu" in words or "anode" in words or "anode_free" in words or "anode-free" in words:
        return CellKind("li_cu", "sample description names Cu / anode-free")
    if words.count("li") >= 2 or "symmetric" in words:
        return CellKind("li_li", "sample description names Li on both sides")
    if electro is not None and len(electro):
        v = np.abs(electro["voltage"].to_numpy(dtype=float))
        low, high = np.percentile(v[:: max(1, v.size // 200_000)], [5, 95])
        if low > CATHODE_MIN_V:
            return CellKind(
                "cathode", f"voltage window {low:.3g}–{high:.3g} V (> {CATHODE_MIN_V} V)"
            )
    return CellKind(None, "not stated; treated as a Li-metal cell")
