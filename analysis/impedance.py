"""Impedance spectra: checks of the data, the lin-KK validity test, a short seen in a spectrum.

Convention (as stored by ssbench): Z = Z' + jZ'' with Z'' < 0 for a capacitive arc; plots
show −Z''. Exports that store −Z'' are converted by their importers. A spectrum with Z'' > 0
on most points is refused with a hint that the sign was reversed.

lin-KK (after Schönleber et al., Electrochim. Acta 131 (2014) 20): Z is fitted by linear
least squares (weighted by 1/|Z|) with an ohmic R, a series capacitance and M Voigt (RC)
elements whose time constants are log-spaced over the measured range. M is 3 per decade
(at least 5, at most half the points): the paper's μ criterion for M proved erratic on spectra
with CPE arcs and a diffusion tail, so μ = 1 − Σ|R<0| / ΣR>0 is only reported. Data that obey
Kramers–Kronig leave residuals (fractions of |Z|) at the noise level; a cell that changed
during the sweep leaves a structured residual above the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.errors import AnalysisError

MIN_POINTS = 5
#: largest residual (fraction of |Z|) lin-KK accepts as valid by default
KK_LIMIT = 0.02
#: a shorted cell looks like a resistor: |phase| below this everywhere (degrees) ...
SHORT_MAX_PHASE_DEG = 5.0
#: ... and Z' within this ratio (max/min) over the whole sweep
SHORT_MAX_SPREAD = 1.25


class ImpedanceDataError(AnalysisError):
    """A spectrum that cannot be analysed; the message says what and where."""


@dataclass(frozen=True)
class Spectrum:
    """One sweep: frequency (Hz), complex Z (ohm), and where it came from (for messages)."""

    frequency: np.ndarray
    z: np.ndarray
    where: str = "spectrum"

    @property
    def phase_deg(self) -> np.ndarray:
        return np.degrees(np.angle(self.z))


def spectrum(frequency, z_real, z_imag, where: str = "spectrum") -> Spectrum:
    """A checked Spectrum sorted from high to low frequency; ImpedanceDataError if unusable."""
    f = np.asarray(frequency, dtype=float)
    zr, zi = np.asarray(z_real, dtype=float), np.asarray(z_imag, dtype=float)
    if not (f.shape == zr.shape == zi.shape) or f.ndim != 1:
        raise ImpedanceDataError(f"{where}: frequency, Z' and Z'' must be 1-D of one length, got {f.shape}, {zr.shape}, {zi.shape}")  # fmt: skip
    keep = np.isfinite(f) & np.isfinite(zr) & np.isfinite(zi)
    f, zr, zi = f[keep], zr[keep], zi[keep]
    if len(f) < MIN_POINTS:
        raise ImpedanceDataError(f"{where}: {len(f)} usable points; a spectrum needs at least {MIN_POINTS}")  # fmt: skip
    if np.any(f <= 0):
        raise ImpedanceDataError(f"{where}: frequencies must be > 0 Hz (found {f[f <= 0][0]:g})")
    if len(np.unique(f)) < len(f):
        raise ImpedanceDataError(f"{where}: repeated frequencies (several sweeps in one? split them by sweep index)")  # fmt: skip
    if np.median(zr) <= 0:
        raise ImpedanceDataError(f"{where}: Z' is mostly <= 0 ohm; not a cell impedance (check the columns)")  # fmt: skip
    positive = np.mean(zi > 0)
    if positive > 0.6:
        raise ImpedanceDataError(
            f"{where}: Z'' > 0 at {positive:.0%} of the points: this looks like -Z'' "
            "(ssbench stores Z'' < 0 for capacitive arcs); negate the imaginary column"
        )
    order = np.argsort(-f)
    return Spectrum(f[order], (zr + 1j * zi)[order], where)


@dataclass(frozen=True)
class KKResult:
    """lin-KK outcome: elements used, μ, residuals (fractions of |Z|), validity, message."""

    elements: int
    mu: float
    residual_real: np.ndarray
    residual_imag: np.ndarray
    limit: float

    @property
    def max_residual(self) -> float:
        return float(max(np.abs(self.residual_real).max(), np.abs(self.residual_imag).max()))

    @property
    def valid(self) -> bool:
        return self.max_residual <= self.limit

    def message(self, s: Spectrum) -> str:
        worst = int(np.argmax(np.maximum(np.abs(self.residual_real), np.abs(self.residual_imag))))
        verdict = "passes" if self.valid else "FAILS"
        return (f"{s.where}: {verdict} the Kramers-Kronig test (lin-KK, M={self.elements}): "
                f"max residual {self.max_residual:.2%} of |Z| at {s.frequency[worst]:.3g} Hz "
                f"(limit {self.limit:.0%})"
                + ("" if self.valid else "; the cell changed during the sweep, or the data are "
                   "not one steady-state spectrum"))  # fmt: skip


def lin_kk(s: Spectrum, per_decade: float = 3.0, limit: float = KK_LIMIT) -> KKResult:
    """The lin-KK test of ``s`` (see the module docstring)."""
    omega = 2 * np.pi * s.frequency
    decades = np.log10(omega.max() / omega.min())
    m = int(min(max(round(per_decade * decades), 5), len(s.frequency) // 2))
    taus = np.logspace(np.log10(1 / omega.max()), np.log10(1 / omega.min()), m)
    columns = np.column_stack([np.ones_like(omega, dtype=complex),
                               1.0 / (1.0 + 1j * np.outer(omega, taus)), 1.0 / (1j * omega)])  # fmt: skip
    weight = 1.0 / np.abs(s.z)
    rows = np.vstack([columns.real * weight[:, None], columns.imag * weight[:, None]])
    rhs = np.concatenate([s.z.real * weight, s.z.imag * weight])
    params, *_ = np.linalg.lstsq(rows, rhs, rcond=None)
    r = params[1:-1]
    positive = r[r > 0].sum()
    mu = 1.0 - np.abs(r[r < 0]).sum() / positive if positive > 0 else 0.0
    res = (s.z - columns @ params) / np.abs(s.z)
    return KKResult(m, float(mu), res.real, res.imag, limit)


@dataclass(frozen=True)
class ShortVerdict:
    """Whether a spectrum is that of a shorted cell, its resistance, and why."""

    shorted: bool
    resistance: float
    reason: str


def recognise_short(s: Spectrum, previous_ohm: float | None = None) -> ShortVerdict:
    """A short is a flat, resistive spectrum: no arc, |phase| tiny, Z' constant.

    ``previous_ohm`` (the cell's earlier low-frequency resistance), when given, must also have
    collapsed by more than half, so a purely resistive healthy electrolyte is not called shorted.
    """
    phase = np.abs(s.phase_deg)
    spread = s.z.real.max() / s.z.real.min()
    r = float(np.median(s.z.real))
    flat = phase.max() < SHORT_MAX_PHASE_DEG and spread < SHORT_MAX_SPREAD
    collapsed = previous_ohm is None or r < 0.5 * previous_ohm
    if flat and collapsed:
        before = f", down from {previous_ohm:.4g} ohm" if previous_ohm else ""
        return ShortVerdict(True, r, f"{s.where}: resistive spectrum, R = {r:.4g} ohm, |phase| < {phase.max():.2g} deg{before}: shorted")  # fmt: skip
    why = f"max |phase| {phase.max():.3g} deg, Z' spread x{spread:.3g}"
    return ShortVerdict(False, r, f"{s.where}: not shorted ({why})")
