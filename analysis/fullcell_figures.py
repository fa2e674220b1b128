"""Report figures of full cells: voltage profiles of selected cycles, dQ/dV, pressure vs state
of charge (capacity and CE per cycle are ``analysis.figures.per_cycle``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from analysis import fullcell  # noqa: E402
from analysis.figures import _save  # noqa: E402
from analysis.model import RunData  # noqa: E402
from analysis.pipeline import RunAnalysis  # noqa: E402

HALVES = (("charge", "-"), ("discharge", "--"))


def selected_cycles(res: RunAnalysis, count: int = 3) -> list[int]:
    """First, middle and last complete cycles of a cathode cell (none for other cells)."""
    c = res.cycles
    if c.empty or "q_charge" not in c:
        return []
    ok = c[c["complete"].astype(bool)]["cycle"].to_list()
    picks = sorted({ok[0], ok[len(ok) // 2], ok[-1]}) if ok else []
    return picks[:count]


def _charge(samples) -> np.ndarray:
    """Cumulative |charge| (mAh) through a half cycle's samples."""
    t, i = samples["time"].to_numpy(), samples["current"].to_numpy()
    dq = np.abs(0.5 * (i[1:] + i[:-1]) * np.diff(t))
    return np.concatenate(([0.0], np.cumsum(dq))) / fullcell.MAH


def _halves_figure(
    run: RunData, res: RunAnalysis, path: Path, xy, labels: dict[str, str]
) -> Path | None:
    """One line per charge / discharge half of the selected cycles; ``xy(half_cycle_samples)``
    gives the (x, y) to draw, or None when the half has too little data."""
    picks = selected_cycles(res)
    if not picks:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for n, cycle in enumerate(picks):
        for half, style in HALVES:
            line = xy(fullcell.half_cycle(run.electro, res.steps, cycle, half))
            if line is not None:
                ax.plot(*line, style, color=f"C{n}", label=f"cycle {cycle} {half}")
    ax.set(**labels)
    ax.legend(fontsize=8)
    return _save(fig, path)


def profiles(run: RunData, res: RunAnalysis, path: Path) -> Path | None:
    """Voltage against capacity (mAh) of the charge and discharge of selected cycles."""

    def xy(s):
        return (_charge(s), s["voltage"]) if len(s) > 1 else None

    labels = {"xlabel": "capacity (mAh)", "ylabel": "V (V)", "title": "Voltage profiles"}
    return _halves_figure(run, res, path, xy, labels)


def dqdv_figure(run: RunData, res: RunAnalysis, path: Path) -> Path | None:
    """dQ/dV (mAh/V) of the charge and discharge of the selected cycles."""

    def xy(s):
        curve = fullcell.dqdv(s)
        return (curve["voltage"], curve["dqdv"] / fullcell.MAH) if len(curve) else None

    labels = {"xlabel": "V (V)", "ylabel": "dQ/dV (mAh/V)", "title": "Differential capacity"}
    return _halves_figure(run, res, path, xy, labels)


def pressure_soc(run: RunData, res: RunAnalysis, path: Path) -> Path | None:
    """Stack pressure (MPa) against the state of charge (mAh charged) of selected cycles."""
    p = run.streams.get("pressure")
    picks = selected_cycles(res)
    if p is None or p.empty or not picks:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for n, cycle in enumerate(picks):
        soc0 = 0.0
        for half, style in HALVES:
            s = fullcell.half_cycle(run.electro, res.steps, cycle, half)
            if len(s) < 2:
                continue
            q = _charge(s)
            soc = soc0 + (q if half == "charge" else -q)
            soc0 = soc[-1]
            pressure = np.interp(s["time"], p["time"], p["pressure"]) / 1e6
            ax.plot(soc, pressure, style, color=f"C{n}", label=f"cycle {cycle} {half}")
    ax.set(xlabel="state of charge (mAh charged)", ylabel="pressure (MPa)",
           title="Stack pressure vs state of charge")  # fmt: skip
    ax.legend(fontsize=8)
    return _save(fig, path)
