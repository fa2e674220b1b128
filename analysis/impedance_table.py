"""Many spectra -> one table of impedance quantities against time, cycle, pressure, temperature.

Each row is one sweep: its context (time of its first point, cycle, sweep index, stack
pressure, temperature), the fitted R_bulk and R_interface with their standard errors, the
per-interface ASR (symmetric-cell convention, analysis/impedance_fit.py), the first arc's
capacitance, the lin-KK verdict and whether the spectrum is that of a short. The void
signature is a rise of R_interface above its running baseline while the cell is not shorted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analysis.impedance import ImpedanceDataError, Spectrum, recognise_short
from analysis.impedance_drt import drt
from analysis.impedance_fit import fit_spectrum, quantities

CONTEXT = ("time_s", "cycle", "sweep", "pressure_Pa", "temperature_K")
#: R_interface above (1 + this) x its baseline is reported as a void signature
VOID_RISE = 0.3


@dataclass(frozen=True)
class SweepRecord:
    """A spectrum with its context (keys of CONTEXT; missing ones are NaN)."""

    spectrum: Spectrum
    context: dict[str, Any] = field(default_factory=dict)


def impedance_table(records: list[SweepRecord], area_m2: float, circuit: str | None = None,
                    symmetric: bool = True) -> pd.DataFrame:  # fmt: skip
    """Fit every sweep (a short is recognised, not fitted) and tabulate the quantities."""
    rows: list[dict[str, Any]] = []
    previous: float | None = None
    for record in records:
        s = record.spectrum
        row: dict[str, Any] = {key: record.context.get(key, math.nan) for key in CONTEXT}
        short = recognise_short(s, previous)
        row.update(shorted=short.shorted, r_low_f_ohm=float(s.z.real[-1]))
        if short.shorted:
            row.update(r_bulk_ohm=math.nan, r_interface_ohm=math.nan, note=short.reason)
            rows.append(row)
            continue
        fit = fit_spectrum(s, circuit)
        q = quantities(fit, area_m2, symmetric)
        first = next(iter(q.capacitances.values()), (math.nan, math.nan))
        row.update(
            r_bulk_ohm=q.r_bulk, r_bulk_err_ohm=q.r_bulk_err,
            r_interface_ohm=q.r_interface, r_interface_err_ohm=q.r_interface_err,
            asr_interface_ohm_cm2=q.asr_interface_ohm_cm2,
            asr_interface_err_ohm_cm2=q.asr_interface_err_ohm_cm2,
            c_interface_F=first[0], c_interface_err_F=first[1],
            kk_valid=bool(fit.kk.valid) if fit.kk else None,
            kk_max_residual=fit.kk.max_residual if fit.kk else math.nan,
            fit_rms=fit.rms_relative, note="; ".join(fit.warnings),
        )  # fmt: skip
        previous = float(s.z.real[-1])
        rows.append(row)
    return pd.DataFrame(rows)


def drt_peaks_table(records: list[SweepRecord]) -> pd.DataFrame:
    """One row per DRT peak of every sweep (analysis/impedance_drt.py): its context, τ (s),
    f = 1/(2πτ) (Hz), R (Ω), whether it lies outside the measured range; a sweep the DRT
    cannot take (too few points) gets one row with the reason in ``note``."""
    rows: list[dict[str, Any]] = []
    for record in records:
        context = {key: record.context.get(key, math.nan) for key in CONTEXT}
        try:
            result = drt(record.spectrum)
        except ImpedanceDataError as exc:
            rows.append({**context, "note": str(exc)})
            continue
        for k, peak in enumerate(result.peaks, start=1):
            rows.append({**context, "peak": k, "tau_s": peak.tau_s, "frequency_Hz": peak.frequency_Hz,
                         "r_ohm": peak.resistance_ohm, "outside": peak.outside,
                         "r_inf_ohm": result.r_inf, "note": ""})  # fmt: skip
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class InterfaceRise:
    """An interfacial-resistance rise (void signature) at one sweep of the table."""

    row: int
    time_s: float
    cycle: float
    r_interface_ohm: float
    baseline_ohm: float

    @property
    def message(self) -> str:
        return (f"void signature: R_interface {self.r_interface_ohm:.4g} ohm at t = "
                f"{self.time_s:.6g} s (cycle {self.cycle:g}) is {self.r_interface_ohm / self.baseline_ohm - 1:.0%} "
                f"above its baseline {self.baseline_ohm:.4g} ohm")  # fmt: skip


def interface_rises(table: pd.DataFrame, rise: float = VOID_RISE) -> list[InterfaceRise]:
    """Sweeps whose R_interface exceeds (1 + ``rise``) x the lowest one before them."""
    found: list[InterfaceRise] = []
    baseline = math.inf
    for i, row in table.iterrows():
        r = row.get("r_interface_ohm", math.nan)
        if row.get("shorted") or not math.isfinite(r):
            continue
        if math.isfinite(baseline) and r > (1 + rise) * baseline:
            found.append(InterfaceRise(int(i), float(row["time_s"]), float(row["cycle"]), float(r), baseline))  # fmt: skip
        baseline = min(baseline, r)
    return found
