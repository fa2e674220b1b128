"""How long impedance and voltammetry sweeps take: one timing model shared by the sweep-capable
drivers and the protocol estimate, so ``validate`` times a sweep as the instrument runs it."""

from __future__ import annotations

import math

import numpy as np

#: sweep-time estimate per frequency point: max(2 periods, 0.1 s) + 0.05 s settling
EIS_PERIODS_PER_POINT, EIS_MIN_POINT_S, EIS_OVERHEAD_S = 2.0, 0.1, 0.05
#: default time an EIS "at open circuit" measures the OCV first (driver setting ``ocv_settle``)
OCV_SETTLE_S = 1.0


def voltammetry_points(kind: str, potentials: list[float] | tuple[float, ...], step: float,
                       scans: int = 1) -> int:  # fmt: skip
    """Points of an LSV (start, stop) or CV (start, vertex1, vertex2, back to start per scan)."""
    values = list(potentials)
    legs = zip(values, [*values[1:], values[0]], strict=True)
    path = abs(values[1] - values[0]) if kind == "lsv" else sum(abs(b - a) for a, b in legs)
    return max(round(path * scans / step), 1) + 1


def eis_duration_estimate(f_start: float, f_end: float, points: int) -> float:
    """Seconds a sweep of ``points`` log-spaced frequencies takes (low frequencies dominate)."""
    freqs = np.logspace(math.log10(f_start), math.log10(f_end), points) if points > 1 else [f_start]  # fmt: skip
    return float(sum(max(EIS_PERIODS_PER_POINT / f, EIS_MIN_POINT_S) + EIS_OVERHEAD_S for f in freqs))  # fmt: skip
