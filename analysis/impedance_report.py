"""The impedance part of a run report: spectra from the run's ``impedance`` stream, fits,
Nyquist and Bode plots with the fit overlaid, R_interface against cycle and stack pressure.

The stream (docs/run-file.md) has one row per frequency point: ``time, frequency, z_real,
z_imag, modulus, phase, dc_level, step, cycle, sweep``. Pressure and temperature of a sweep
are the ``pressure`` / ``thermal`` stream values nearest to its first point, when recorded.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis.errors import AnalysisError  # noqa: E402
from analysis.impedance import spectrum  # noqa: E402
from analysis.impedance_drt import drt  # noqa: E402
from analysis.impedance_fit import fit_spectrum  # noqa: E402
from analysis.impedance_table import (  # noqa: E402
    SweepRecord,
    drt_peaks_table,
    impedance_table,
    interface_rises,
)
from analysis.model import RunData  # noqa: E402

STREAM = "impedance"
#: how many spectra the Nyquist / Bode figures draw (evenly picked, first and last included)
MAX_DRAWN = 8


def _nearest(run: RunData, name: str, column: str, t: float) -> float:
    df = run.streams.get(name)
    if df is None or column not in df.columns or df.empty:
        return math.nan
    i = int(np.clip(np.searchsorted(df["time"].to_numpy(), t), 0, len(df) - 1))
    return float(df[column].iat[i])


def sweeps_of(run: RunData) -> list[SweepRecord]:
    """One SweepRecord per sweep index of the run's impedance stream (empty when none)."""
    df = run.streams.get(STREAM)
    if df is None or df.empty:
        return []
    records = []
    for sweep, rows in df.groupby("sweep", sort=True):
        t0 = float(rows["time"].iloc[0])
        where = f"{run.source or 'run'} sweep {int(sweep)}"
        context = {
            "time_s": t0,
            "cycle": float(rows["cycle"].iloc[0]) if "cycle" in rows else math.nan,
            "sweep": int(sweep),
            "pressure_Pa": _nearest(run, "pressure", "pressure", t0),
            "temperature_K": _nearest(run, "thermal", "temperature", t0),
        }
        s = spectrum(rows["frequency"], rows["z_real"], rows["z_imag"], where)
        records.append(SweepRecord(s, context))
    return records


def _picked(records: list[SweepRecord]) -> list[SweepRecord]:
    if len(records) <= MAX_DRAWN:
        return records
    idx = np.unique(np.linspace(0, len(records) - 1, MAX_DRAWN).round().astype(int))
    return [records[i] for i in idx]


def spectra_figure(records: list[SweepRecord], path: Path, circuit: str | None = None) -> Path:
    """Nyquist (−Z″ vs Z′, equal axes) and Bode (|Z|, phase vs f), fits as dashed lines."""
    fig, (nyq, mod) = plt.subplots(1, 2, figsize=(11, 4.2))
    phase = mod.twinx()
    for k, record in enumerate(_picked(records)):
        s = record.spectrum
        color = plt.cm.viridis(k / max(len(_picked(records)) - 1, 1))
        label = f"sweep {record.context.get('sweep', k)}"
        nyq.plot(s.z.real, -s.z.imag, "o", ms=3, color=color, label=label)
        mod.loglog(s.frequency, np.abs(s.z), "o", ms=3, color=color)
        phase.semilogx(s.frequency, -s.phase_deg, "^", ms=2, color=color, alpha=0.6)
        try:
            fit = fit_spectrum(s, circuit, kk=False)
        except AnalysisError:
            continue
        nyq.plot(fit.z_fit.real, -fit.z_fit.imag, "--", color=color, lw=1)
        mod.loglog(s.frequency, np.abs(fit.z_fit), "--", color=color, lw=1)
    nyq.set(xlabel="Z' (ohm)", ylabel="-Z'' (ohm)", title="Nyquist (dashed: fit)")
    nyq.set_aspect("equal", adjustable="datalim")
    nyq.legend(fontsize=7)
    mod.set(
        xlabel="frequency (Hz)", ylabel="|Z| (ohm)", title="Bode (circles |Z|, triangles -phase)"
    )
    phase.set_ylabel("-phase (deg)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def drt_figure(records: list[SweepRecord], path: Path) -> Path | None:
    """γ(τ) of the drawn sweeps (log τ axis), peaks marked; None when no sweep has a DRT."""
    fig, ax = plt.subplots(figsize=(7, 4))
    drawn = 0
    for k, record in enumerate(_picked(records)):
        try:
            result = drt(record.spectrum)
        except AnalysisError:
            continue
        color = plt.cm.viridis(k / max(len(_picked(records)) - 1, 1))
        ax.semilogx(result.tau_s, result.gamma_ohm, color=color,
                    label=f"sweep {record.context.get('sweep', k)}")  # fmt: skip
        for peak in result.peaks:
            ax.axvline(peak.tau_s, color=color, ls=":" if peak.outside else "--", lw=0.8)
        drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    ax.set(xlabel="τ (s)", ylabel="γ (ohm per unit ln τ)",
           title="distribution of relaxation times (dashed: peaks, dotted: outside the range)")  # fmt: skip
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def interface_figure(table: pd.DataFrame, path: Path) -> Path | None:
    """R_interface (with error bars) against cycle and against stack pressure."""
    ok = table[np.isfinite(table.get("r_interface_ohm", pd.Series(dtype=float)))]
    if ok.empty:
        return None
    axes_for = [c for c in ("cycle", "pressure_Pa")
                if c in ok and ok[c][np.isfinite(ok[c])].nunique() > 1]  # fmt: skip
    axes_for = axes_for or ["time_s"]
    fig, axes = plt.subplots(1, len(axes_for), figsize=(5.5 * len(axes_for), 4), squeeze=False)
    for ax, column in zip(axes[0], axes_for, strict=True):
        x = ok[column] / (1e6 if column == "pressure_Pa" else 1.0)
        ax.errorbar(x, ok["r_interface_ohm"], yerr=ok["r_interface_err_ohm"], fmt="o-", ms=4)
        ax.errorbar(x, ok["r_bulk_ohm"], yerr=ok["r_bulk_err_ohm"], fmt="s--", ms=3, alpha=0.7)
        ax.set(xlabel={"cycle": "cycle", "pressure_Pa": "stack pressure (MPa)", "time_s": "time (s)"}[column],  # fmt: skip
               ylabel="resistance (ohm)", title=f"R_interface (o) and R_bulk (s) vs {column.split('_')[0]}")  # fmt: skip
        ax.set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _beside_voltage_onsets(message: str, time_s: float, events: pd.DataFrame | None) -> str:
    """The void signature's message with the voltage-based void onsets before it."""
    if events is None or "kind" not in events:
        return message
    onsets = events.loc[(events["kind"] == "void_onset") & (events["time"] <= time_s), "time"]
    if onsets.empty:
        return message + "; no voltage-based void onset before it"
    last = float(onsets.iloc[-1])
    return (
        message + f"; voltage-based void onset at t = {last:.6g} s ({time_s - last:.4g} s earlier)"
    )


def impedance_section(run: RunData, folder: Path, circuit: str | None = None,
                      events: pd.DataFrame | None = None) -> str:  # fmt: skip
    """HTML for the report (and figures + impedance.csv in ``folder``); "" without spectra.
    ``events`` (the analysis' events) puts each void signature next to the voltage-based one."""
    records = sweeps_of(run)
    if not records:
        return ""
    area = float((run.metadata.get("sample") or {}).get("area_m2") or math.nan)
    figures = folder / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    table = impedance_table(records, area if area > 0 else 1e-4, circuit)
    table.to_csv(folder / "impedance.csv", index=False)
    parts = [f"<h2>Impedance ({len(records)} sweeps)</h2>"]
    if not area > 0:
        parts.append("<p class='warn'>no electrode area in the sample metadata: ASR computed for 1 cm2</p>")  # fmt: skip
    parts.append(f"<img src='figures/{spectra_figure(records, figures / 'spectra.png', circuit).name}' alt='spectra'>")  # fmt: skip
    r_fig = interface_figure(table, figures / "r_interface.png")
    if r_fig is not None:
        parts.append(f"<img src='figures/{r_fig.name}' alt='R_interface'>")
    d_fig = drt_figure(records, figures / "drt.png")
    if d_fig is not None:
        parts.append(f"<img src='figures/{d_fig.name}' alt='DRT'>")
    peaks = drt_peaks_table(records)
    peaks.to_csv(folder / "drt_peaks.csv", index=False)
    rises = [_beside_voltage_onsets(r.message, r.time_s, events) for r in interface_rises(table)]
    notes = rises + [n for n in table.get("note", []) if n]
    parts += [f"<p class='warn'>{html.escape(n)}</p>" for n in notes]
    shown = table.drop(columns=["note"], errors="ignore")
    parts.append(shown.to_html(index=False, float_format=lambda v: f"{v:.4g}", border=0))
    if "tau_s" in peaks:
        parts.append("<h3>DRT peaks</h3>")
        columns = ["sweep", "peak", "tau_s", "frequency_Hz", "r_ohm", "outside"]
        parts.append(peaks.dropna(subset=["tau_s"])[columns].to_html(
            index=False, float_format=lambda v: f"{v:.4g}", border=0))  # fmt: skip
    return "".join(parts)
