"""Interphase growth: a monotonic resistance rise R(t) = R0 + k·t^n and its growth exponent n.

Signature: physics-ees.md §3 item 3 (monotonic, sub-linear rise, also at open circuit; the
Hartmann numbers read as n ≈ 0.2–0.35). The resistance series is the step ASR (plateau η / J)
or the current-interrupt R_total, so growth during rests shows up through the interrupts.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats


def growth_exponent(t: np.ndarray, r: np.ndarray, *, min_points: int = 5) -> dict[str, float]:
    """Fit R = R0 + k·t^n (t from run start, robust soft-L1 loss); return n, R0, k, R², ρ, rise."""
    t = np.asarray(t, dtype=float)
    r = np.asarray(r, dtype=float)
    ok = np.isfinite(t) & np.isfinite(r) & (t > 0)
    t, r = t[ok], r[ok]
    if t.size < min_points:
        return {}
    rho = float(stats.spearmanr(t, r).statistic) if np.ptp(r) > 0 else 0.0
    out = {"spearman_rho": rho, "relative_rise": float((r[-1] - r[0]) / r[0]) if r[0] else np.nan}
    if rho <= 0.5:
        return out
    scale_t, scale_r = t.max(), np.abs(r).max()
    ts, rs = t / scale_t, r / scale_r

    def model(p: np.ndarray, x: np.ndarray) -> np.ndarray:
        return p[0] + p[1] * x ** p[2]

    fit = optimize.least_squares(
        lambda p: model(p, ts) - rs,
        x0=(rs[0], max(rs[-1] - rs[0], 1e-6), 0.5),
        bounds=([-np.inf, 0, 0.01], [np.inf, np.inf, 3.0]),
        loss="soft_l1",
        f_scale=max(float(np.median(np.abs(np.diff(rs)))), 1e-9),
    )
    if not fit.success:
        return out
    r0, k, n = fit.x
    resid = rs - model(fit.x, ts)
    r2 = 1.0 - float(np.sum(resid**2) / np.sum((rs - rs.mean()) ** 2))
    out.update(
        {
            "exponent": float(n),
            "r0": float(r0 * scale_r),
            "k": float(k * scale_r / scale_t**n),
            "fit_r2": r2,
        }
    )
    return out
