"""PNG figures of one analysed run (matplotlib, Agg backend — no display needed).

Long traces are drawn as a min/max envelope per horizontal pixel, so a 7 M-sample run plots
as fast as a short one and no spike disappears.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from analysis.display import QUANTITIES, convert  # noqa: E402
from analysis.model import RunData  # noqa: E402
from analysis.pipeline import RunAnalysis  # noqa: E402
from daq.documents import EventKind as K  # noqa: E402

EVENT_COLORS = {"void_onset": "tab:orange", "soft_short": "tab:purple", "hard_short": "tab:red"}
MAX_POINTS = 4000
#: Recorded (engine) events worth a marker; routine ones (step_start, signal, ...) are not.
MARKED_RECORDED = {K.LIMIT_TRIP, K.OUTCOME, K.FAULT, K.ABORT, K.PAUSE, K.RESUME}


def envelope(t: np.ndarray, y: np.ndarray, bins: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(t, y) reduced to min and max per bin, interleaved, for plotting long traces."""
    if t.size <= 2 * bins:
        return t, y
    edges = np.linspace(0, t.size, bins + 1).astype(np.int64)[:-1]
    lo, hi = np.minimum.reduceat(y, edges), np.maximum.reduceat(y, edges)
    tt = np.repeat(t[edges], 2)
    yy = np.empty(2 * edges.size)
    yy[0::2], yy[1::2] = lo, hi
    return tt, yy


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def voltage_time(run: RunData, res: RunAnalysis, path: Path) -> Path | None:
    """Voltage against time (h) with detector events and notable recorded events marked."""
    if "electro" not in run.streams:
        return None
    e = run.electro
    t, v = envelope(e["time"].to_numpy() / 3600, e["voltage"].to_numpy())
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(t, v, lw=0.6, color="k")
    seen: set[str] = set()
    ev_all = res.events
    marked = ev_all[(ev_all["origin"] == "detector") | ev_all["kind"].isin(MARKED_RECORDED)]
    for ev in marked.itertuples(index=False):
        color = EVENT_COLORS.get(ev.kind, "tab:gray")
        label = ev.kind if ev.kind not in seen else None
        seen.add(ev.kind)
        ax.axvline(ev.time / 3600, color=color, lw=1, ls="--", label=label)
    ax.set(xlabel="time (h)", ylabel="V (V)", title="Voltage with events")
    if seen:
        ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def _by_completeness(ax, cycles, values: np.ndarray, label: str, color: str | None = None) -> None:
    """Complete cycles as a joined line; incomplete ones as hollow, unjoined markers."""
    ok = cycles["complete"].astype(bool).to_numpy()
    (line,) = ax.plot(cycles["cycle"][ok], values[ok], ".-", label=label, color=color)
    if (~ok).any():
        ax.plot(cycles["cycle"][~ok], values[~ok], "o", mfc="none", color=line.get_color(),
                label=f"{label} (incomplete cycle)")  # fmt: skip


def per_cycle(res: RunAnalysis, path: Path) -> Path | None:
    """Per cycle, two panels: capacity (mAh) and CE, energy efficiency (%) for a cell with a
    cathode; plateau overpotential (mV) and CE (%) for Li-metal cells. Incomplete cycles are
    drawn hollow and never joined to the others."""
    c = res.cycles
    if c.empty or not ({"eta_plate", "q_charge"} & set(c.columns)):
        return None
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    if "q_charge" in c:
        _by_completeness(a1, c, convert(c["q_charge"], "charge"), "charge")
        _by_completeness(a1, c, convert(c["q_discharge"], "charge"), "discharge")
        a1.set(ylabel="capacity (mAh)", title="Capacity per cycle")
        _by_completeness(a2, c, convert(c["energy_efficiency"], "ratio"), "energy efficiency")
        title = "CE (discharge/charge) and energy efficiency per cycle"
    else:
        _by_completeness(a1, c, convert(c["eta_plate"], "overpotential"), "plating")
        _by_completeness(a1, c, convert(c["eta_strip"], "overpotential"), "stripping")
        a1.set(ylabel="plateau η (mV)", title="Overpotential per cycle")
        title = "Coulombic efficiency (strip/plate) per cycle"
    _by_completeness(a2, c, convert(c["ce"], "ratio"), "CE", color="tab:green")
    a2.set(xlabel="cycle", ylabel="CE (%)", title=title)
    a1.legend(fontsize=8)
    a2.legend(fontsize=8)
    return _save(fig, path)


def void_onsets(run: RunData, res: RunAnalysis, path: Path, max_steps: int = 4) -> Path | None:
    """|V| against stripped charge (mAh cm⁻², or mAh without an area) for the first void-onset
    steps, onset marked."""
    void = res.events[(res.events["kind"] == "void_onset") & (res.events["origin"] == "detector")]
    if void.empty:
        return None
    e = run.electro
    t, v, i = (e[c].to_numpy() for c in ("time", "voltage", "current"))
    area, qty = (run.area_m2, "areal_capacity") if run.area_m2 else (1.0, "charge")
    fig, ax = plt.subplots(figsize=(8, 4))
    for ev in void.head(max_steps).itertuples(index=False):
        st = res.steps.loc[res.steps["step"] == ev.step].iloc[0]
        a, b = int(st["start_row"]), int(st["end_row"])
        q = np.concatenate(([0.0], np.cumsum(np.abs(i[a + 1 : b]) * np.diff(t[a:b]))))
        (line,) = ax.plot(
            convert(q / area, qty),
            np.abs(v[a:b]),
            lw=0.8,
            label=f"step {ev.step} (cycle {ev.cycle})",
        )
        ax.axvline(convert(ev.v_charge_C / area, qty), color=line.get_color(), ls="--", lw=1)
    ax.set(
        xlabel=f"stripped charge ({QUANTITIES[qty].label})",
        ylabel="|V| (V)",
        title="Void onset (dashed) in stripping steps",
    )
    ax.legend(fontsize=8)
    return _save(fig, path)


def ccd_staircase(res: RunAnalysis, path: Path) -> Path | None:
    """Current-density staircase against time with |V| and the failure marked."""
    if not res.ccd:
        return None
    s = res.steps[res.steps["type"] != "rest"]
    col = res.ccd["unit"]
    scale, unit = (0.1, "mA/cm²") if col == "mean_j" else (1e3, "mA")
    fig, ax = plt.subplots(figsize=(9, 4))
    th = np.column_stack((s["start_time"], s["end_time"])).ravel() / 3600
    jj = np.repeat(np.abs(s[col].to_numpy()) * scale, 2)
    ax.plot(th, jj, color="tab:blue", lw=1.2)
    ax.set(
        xlabel="time (h)",
        ylabel=f"|J| ({unit})",
        title=f"CCD ramp — failure: {res.ccd['failure_mode']}",
    )
    ax2 = ax.twinx()
    ax2.plot(
        0.5 * (s["start_time"] + s["end_time"]) / 3600,
        1e3 * np.abs(s["eta_peak"]),
        ".",
        color="k",
        ms=3,
    )
    ax2.set_ylabel("peak |η| (mV)")
    if "failure_time" in res.ccd:
        ax.axvline(res.ccd["failure_time"] / 3600, color="tab:red", ls="--")
    return _save(fig, path)


def pressure_trace(run: RunData, res: RunAnalysis, path: Path) -> Path | None:
    """Stack pressure (MPa) against time with excursions shaded."""
    p = run.streams.get("pressure")
    if p is None or p.empty:
        return None
    t, y = envelope(p["time"].to_numpy() / 3600, p["pressure"].to_numpy() / 1e6)
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.plot(t, y, lw=0.7)
    for ex in res.excursions.itertuples(index=False):
        ax.axvspan(ex.start_time / 3600, ex.end_time / 3600, color="tab:red", alpha=0.2)
    ax.set(xlabel="time (h)", ylabel="pressure (MPa)", title="Stack pressure (excursions shaded)")
    return _save(fig, path)


def kymograph_figure(res: RunAnalysis, path: Path) -> Path | None:
    """Kymograph (position along the tubule against time) with the detected Li front."""
    img = res.imaging
    if not img:
        return None
    k = img["kymograph"]
    t = img["time"]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.imshow(k.T, aspect="auto", origin="lower", cmap="gray", extent=(t[0], t[-1], 0, k.shape[1]))
    pixel = img["pixel_size_m"] if img["unit"] == "m" else 1.0
    ax.plot(t, img["front"] / pixel, color="tab:orange", lw=1.2, label="Li front")
    ax.set(xlabel="time (s)", ylabel="position (px)", title="Kymograph")
    ax.legend(fontsize=8)
    return _save(fig, path)


def all_figures(run: RunData, res: RunAnalysis, folder: Path) -> dict[str, Path]:
    """Every figure that applies to this run, by name."""
    folder.mkdir(parents=True, exist_ok=True)
    made = {
        "voltage": voltage_time(run, res, folder / "voltage.png"),
        "cycles": per_cycle(res, folder / "cycles.png"),
        "void_onset": void_onsets(run, res, folder / "void_onset.png"),
        "ccd": ccd_staircase(res, folder / "ccd.png"),
        "pressure": pressure_trace(run, res, folder / "pressure.png"),
        "kymograph": kymograph_figure(res, folder / "kymograph.png"),
    }
    return {k: v for k, v in made.items() if v is not None}
