"""Distribution of relaxation times (DRT) of one impedance spectrum.

Z(ω) = R_∞ + ∫ γ(ln τ) / (1 + jωτ) d ln τ, with γ ≥ 0 (Ω per unit ln τ). γ is expanded in
piecewise-linear (hat) functions on a log-spaced τ grid (``PER_DECADE`` nodes per decade,
``EXTEND_DECADES`` beyond 1/(2π f) of the measured range on each side), integrated by
quadrature. R_∞ and the hat weights are found by non-negative least squares on the real and
imaginary parts together, weighted by 1/|Z|, with a Tikhonov penalty λ‖D₂γ‖² on the second
difference of γ. λ is chosen by generalised cross-validation (GCV, computed on the
unconstrained Tikhonov solution's influence matrix) over a log grid, relative to the size of
the kernel so the choice does not depend on the cell's resistance.

Peaks are local maxima of γ; each owns the τ range between the minima on either side, and its
resistance is the area of γ over that range (R = ∫ γ d ln τ). A peak whose maximum lies
outside the measured τ range (a diffusion tail, or a bulk arc above the highest frequency)
is flagged ``outside``: its area is not a measured quantity. Definitions: docs/analysis.md.
No inductance term: points with Z'' > 0 at high frequency (cable inductance) are fitted as
well as γ ≥ 0 allows, and raise the residual.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls
from scipy.signal import find_peaks

from analysis.impedance import ImpedanceDataError, Spectrum

PER_DECADE = 10
EXTEND_DECADES = 1.0
#: quadrature points per grid interval (hat functions are integrated on this finer grid)
SUBSTEPS = 8
#: λ candidates, relative to trace(AᵀA) / trace(DᵀD)
LAMBDAS = np.logspace(-8, 0, 33)
#: a maximum of γ counts as a peak when its prominence exceeds this fraction of max γ
PEAK_PROMINENCE = 0.05
#: ... and holds at least this fraction of the total area (smaller ones join a neighbour)
MIN_PEAK_FRACTION = 0.1


@dataclass(frozen=True)
class DrtPeak:
    """One DRT peak: time constant (s), its frequency 1/(2πτ) (Hz), resistance (Ω)."""

    tau_s: float
    frequency_Hz: float
    resistance_ohm: float
    outside: bool  # the maximum lies beyond the measured frequency range


@dataclass(frozen=True)
class DrtResult:
    """γ on the τ grid, R_∞, the chosen λ (relative), the fitted Z and its quality, the peaks."""

    tau_s: np.ndarray
    gamma_ohm: np.ndarray
    r_inf: float
    lam: float
    z_fit: np.ndarray
    rms_relative: float
    peaks: list[DrtPeak]

    @property
    def r_polarisation(self) -> float:
        """∫ γ d ln τ over the whole grid (Ω)."""
        return float(np.log(self.tau_s[1] / self.tau_s[0]) * self.gamma_ohm.sum())


def _grid(s: Spectrum) -> np.ndarray:
    """ln τ nodes covering the measured range plus ``EXTEND_DECADES`` on each side."""
    lo = math.log10(1.0 / (2 * np.pi * s.frequency.max())) - EXTEND_DECADES
    hi = math.log10(1.0 / (2 * np.pi * s.frequency.min())) + EXTEND_DECADES
    n = int(round((hi - lo) * PER_DECADE)) + 1
    return np.linspace(lo, hi, n) * math.log(10.0)


def _kernel(omega: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A[i, k] = ∫ hat_k(ln τ) / (1 + jω_i τ) d ln τ for hat functions on the nodes ``u``."""
    h = u[1] - u[0]
    fine = np.linspace(u[0] - h, u[-1] + h, (len(u) + 1) * SUBSTEPS + 1)
    hats = np.clip(1.0 - np.abs(fine[:, None] - u[None, :]) / h, 0.0, None)
    weights = np.full(len(fine), fine[1] - fine[0])
    weights[[0, -1]] *= 0.5
    debye = 1.0 / (1.0 + 1j * np.outer(omega, np.exp(fine)))
    return (debye * weights) @ hats


def _second_difference(m: int) -> np.ndarray:
    """D₂ on the hat weights, with a zero column for R_∞ in front."""
    d = np.zeros((m - 2, m + 1))
    for k in range(m - 2):
        d[k, k + 1 : k + 4] = (1.0, -2.0, 1.0)
    return d


def _gcv(a: np.ndarray, b: np.ndarray, reg: np.ndarray, lam: float) -> float:
    """GCV score of the unconstrained Tikhonov solution at ``lam``."""
    gram = a.T @ a + lam * reg.T @ reg
    influence = a @ np.linalg.solve(gram, a.T)
    residual = b - influence @ b
    return float(len(b) * residual @ residual / (len(b) - np.trace(influence)) ** 2)


def drt(s: Spectrum, lam: float | None = None) -> DrtResult:
    """The DRT of ``s`` (see the module docstring); ``lam`` (relative) skips the GCV choice."""
    if len(s.frequency) < 2 * 5:
        raise ImpedanceDataError(f"{s.where}: {len(s.frequency)} points are too few for a DRT (at least 10)")  # fmt: skip
    omega = 2 * np.pi * s.frequency
    u = _grid(s)
    kernel = _kernel(omega, u)
    weight = 1.0 / np.abs(s.z)
    ones = np.ones((len(omega), 1))
    a = np.vstack([np.hstack([ones, kernel.real]) * weight[:, None],
                   np.hstack([0 * ones, kernel.imag]) * weight[:, None]])  # fmt: skip
    b = np.concatenate([s.z.real * weight, s.z.imag * weight])
    reg = _second_difference(len(u))
    scale = np.trace(a.T @ a) / np.trace(reg.T @ reg)
    if lam is None:
        lam = float(min(LAMBDAS, key=lambda x: _gcv(a, b, reg, x * scale)))
    x, _ = nnls(np.vstack([a, math.sqrt(lam * scale) * reg]),
                np.concatenate([b, np.zeros(len(reg))]), maxiter=50 * a.shape[1])  # fmt: skip
    r_inf, gamma = float(x[0]), x[1:]  # a hat's weight is γ at its node (Ω per unit ln τ)
    z_fit = r_inf + kernel @ x[1:]
    rms = float(np.sqrt(np.mean(np.abs((s.z - z_fit) * weight) ** 2)))
    tau = np.exp(u)
    return DrtResult(tau, gamma, r_inf, lam, z_fit, rms, _peaks(tau, gamma, s))


def _areas(gamma: np.ndarray, found: list[int], du: float) -> list[float]:
    """∫ γ d ln τ between the minima that separate the maxima ``found`` (a shared minimum
    node is split half and half)."""
    bounds = [0]
    for left, right in zip(found[:-1], found[1:], strict=True):
        bounds.append(left + int(np.argmin(gamma[left : right + 1])))
    bounds.append(len(gamma) - 1)
    last = len(found) - 1
    return [du * float(gamma[lo : hi + 1].sum() - 0.5 * (gamma[lo] * (k > 0) + gamma[hi] * (k < last)))
            for k, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))]  # fmt: skip


def _peaks(tau: np.ndarray, gamma: np.ndarray, s: Spectrum) -> list[DrtPeak]:
    """Maxima of γ, each with the area between the minima on either side; a maximum holding
    less than ``MIN_PEAK_FRACTION`` of the total area (regularisation ripple) joins its
    neighbours."""
    if not gamma.max() > 0:
        return []
    padded = np.concatenate([[0.0], gamma, [0.0]])  # a maximum at the grid's edge counts
    found = [int(i) - 1 for i in find_peaks(padded, prominence=PEAK_PROMINENCE * gamma.max())[0]]
    du = math.log(tau[1] / tau[0])
    areas = _areas(gamma, found, du)
    while len(found) > 1 and min(areas) < MIN_PEAK_FRACTION * sum(areas):
        found.pop(int(np.argmin(areas)))
        areas = _areas(gamma, found, du)
    tau_lo, tau_hi = 1 / (2 * np.pi * s.frequency.max()), 1 / (2 * np.pi * s.frequency.min())
    apexes = [_apex(tau, gamma, i) for i in found]
    return [DrtPeak(t, 1 / (2 * np.pi * t), area, not tau_lo <= t <= tau_hi)
            for t, area in zip(apexes, areas, strict=True)]  # fmt: skip


def _apex(tau: np.ndarray, gamma: np.ndarray, i: int) -> float:
    """τ of the maximum at node ``i``, refined by a parabola through its neighbours in ln τ."""
    if 0 < i < len(gamma) - 1:
        y0, y1, y2 = gamma[i - 1 : i + 2]
        curve = y0 - 2 * y1 + y2
        shift = 0.5 * (y0 - y2) / curve if curve < 0 else 0.0
        return float(tau[i] * (tau[1] / tau[0]) ** shift)
    return float(tau[i])
