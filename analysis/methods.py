"""A methods paragraph a user can paste into a paper, generated from the protocol and the data.

From the protocol (stored normalized, SI): its name and each step's settings (current
densities, capacities, cutoffs, pressures, rests) in display units. From the data: cell kind,
electrode area, current-density levels, cycles, mean stack pressure and temperature, voltage
window, sampling, and the conventions of the analysis.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from analysis.display import QUANTITIES, convert, format_value, round_meaningful
from analysis.model import RunData
from analysis.pipeline import RunAnalysis

#: Protocol step keys -> display quantity (the normalized protocol is SI).
_STEP_KEYS = {
    "current_density": "current_density",
    "start": "current_density",
    "maximum": "current_density",
    "pressure": "pressure",
    "cutoff": "voltage",
    "polarization_limit": "voltage",
    "temperature": "temperature",
    "rest": "time_s",
    "timeout": "time_s",
    "duration": "time_s",
}
#: Key endings -> display quantity, for keys not listed above.
_KEY_ENDINGS = (
    ("capacity", "areal_capacity"),
    ("current_density", "current_density"),
    ("voltage", "voltage"),
    ("pressure", "pressure"),
    ("_after", "time_s"),
    ("_time", "time_s"),
)
_CELL_NAMES = {
    "cathode": "cell with a cathode",
    "li_li": "symmetric Li|SE|Li cell",
    "li_cu": "anode-free Li|SE|Cu cell",
    "li_metal": "Li-metal cell",
}


def _q(value: float, quantity: str) -> str:
    shown = round_meaningful(float(convert(float(value), quantity)), quantity)
    return f"{format_value(shown)} {QUANTITIES[quantity].label}"


def _step_text(step: dict[str, Any]) -> str | None:
    """'ce_cutoff (current density 0.5 mA cm⁻², plate capacity 1 mAh cm⁻², cutoff 1 V, …)'."""
    kind = str(step.get("type", ""))
    parts = []
    for key, value in step.items():
        if key in ("type", "meta", "wait") or isinstance(value, (dict, list, bool)):
            continue
        if not isinstance(value, (int, float)):
            parts.append(f"{key.replace('_', ' ')} {value}")
            continue
        quantity = _STEP_KEYS.get(key) or next(
            (q for end, q in _KEY_ENDINGS if key.endswith(end)), None
        )
        text = _q(value, quantity) if quantity else format_value(value)
        parts.append(f"{key.replace('_', ' ')} {text}")
    if not kind:
        return None
    return f"{kind.replace('_', ' ')}" + (f" ({', '.join(parts)})" if parts else "")


def _protocol_sentence(run: RunData) -> str:
    raw = (run.metadata.get("protocol") or {}).get("normalized_json") or ""
    try:
        proto = json.loads(raw) if raw else {}
    except ValueError:
        proto = {}
    if not isinstance(proto, dict) or not proto.get("steps"):
        return ""
    steps = [t for t in map(_step_text, proto["steps"]) if t]
    limits = (proto.get("limits") or {}).get("voltage") or {}
    window = (
        f" within safety limits of {_q(limits['min'], 'voltage')} to {_q(limits['max'], 'voltage')}"
        if {"min", "max"} <= set(limits)
        else ""
    )
    rate = (proto.get("sampling") or {}).get("rate")
    sampled = f", sampled at {format_value(rate)} Hz" if rate else ""
    name = proto.get("name") or "the protocol"
    return f"The protocol '{name}' ran {'; then '.join(steps)}{window}{sampled}."


def _data_sentence(run: RunData, res: RunAnalysis) -> str:
    s = res.summary
    kind = _CELL_NAMES.get(str(s.get("cell_type")), "cell")
    area = f" of {_q(run.area_m2, 'area')}" if run.area_m2 else ""
    active = res.steps[res.steps["type"] != "rest"] if len(res.steps) else res.steps
    parts = [f"A {kind}{area} was cycled galvanostatically"]
    if len(active) and active["mean_j"].notna().any():
        from analysis.ccd import current_levels

        j = np.abs(active["mean_j"].to_numpy(dtype=float))
        lv = current_levels(j)
        levels = sorted(float(np.median(j[lv == k])) for k in np.unique(lv))
        shown = ", ".join(_q(v, "current_density") for v in levels[:6])
        parts.append(f"at {shown}" + (" (and more levels)" if len(levels) > 6 else ""))
    parts.append(f"for {s.get('n_cycles', 0)} cycle(s)")
    extra = []
    if "pressure_mean_Pa" in s and np.isfinite(s["pressure_mean_Pa"]):
        extra.append(f"under {_q(s['pressure_mean_Pa'], 'pressure')} stack pressure")
    if "temperature" in res.steps and res.steps["temperature"].notna().any():
        extra.append(f"at {_q(float(np.nanmean(res.steps['temperature'])), 'temperature')}")
    e = run.electro
    v = e["voltage"].to_numpy(dtype=float)
    extra.append(f"between {_q(v.min(), 'voltage')} and {_q(v.max(), 'voltage')}")
    return " ".join(parts) + (", " + ", ".join(extra) if extra else "") + "."


def methods_paragraph(run: RunData, res: RunAnalysis) -> str:
    """Protocol, cell and conditions, and the analysis conventions, as one paragraph."""
    if "electro" not in run.streams or not len(res.steps):
        return "In situ imaging run: no galvanostatic data."
    s = res.summary
    analysis = (
        f"Steps and cycles were segmented from the recorded current with ssbench; charge was "
        f"integrated per step with midpoint weights (no charge credited across sampling gaps); "
        f"{s.get('ce_convention', 'CE = strip / plate')}."
    )
    return " ".join(t for t in (_data_sentence(run, res), _protocol_sentence(run), analysis) if t)
