"""Stack pressure: per-step means, excursions, and the overpotential–pressure correlation.

Excursions are contiguous spans where the pressure lies beyond both its trailing and its leading
rolling median (``window_s``, 5 min) by more than ``max(k_sigma·σ, rel·median)`` (σ from first
differences): spikes and dips shorter than about half the window are flagged, while a set-point
change of a pressure schedule, and the ramp to it, lie between the two medians and are not. The correlation is taken
over active steps between |η_plateau| and the step's mean pressure
(physics-ees.md §2.7, physics-reviews.md §1.2: higher stack pressure → lower overpotential).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from daq.noise import noise_sigma


def stream_step_means(stream: pd.DataFrame, column: str, steps: pd.DataFrame) -> np.ndarray:
    """Time-average of ``column`` over each step's [start_time, end_time] (NaN outside the stream)."""
    t = stream["time"].to_numpy(dtype=float)
    y = stream[column].to_numpy(dtype=float)
    t0, t1 = steps["start_time"].to_numpy(), steps["end_time"].to_numpy()
    if t.size < 2:
        return np.full(t0.size, float(y[0]) if y.size else np.nan)
    cum = np.concatenate(([0.0], np.cumsum(0.5 * (y[1:] + y[:-1]) * np.diff(t))))
    a = np.clip(t0, t[0], t[-1])
    b = np.clip(t1, t[0], t[-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (np.interp(b, t, cum) - np.interp(a, t, cum)) / (b - a)
    point = np.interp(0.5 * (a + b), t, y)
    mean = np.where(b > a, mean, point)
    outside = (t1 < t[0]) | (t0 > t[-1])
    return np.where(outside, np.nan, mean)


def pressure_excursions(
    pressure: pd.DataFrame, *, window_s: float = 300.0, k_sigma: float = 6.0, rel: float = 0.05
) -> pd.DataFrame:
    """Spans where the stack pressure departs from its rolling median: start, end, peak deviation."""
    cols = ["start_time", "end_time", "peak_deviation", "reference"]
    t = pressure["time"].to_numpy(dtype=float)
    p = pressure["pressure"].to_numpy(dtype=float)
    if t.size < 5:
        return pd.DataFrame(columns=cols)
    win = pd.Timedelta(seconds=window_s)
    before = pd.Series(p, index=pd.to_timedelta(t, unit="s")).rolling(win).median().to_numpy()
    after = pd.Series(p[::-1], index=pd.to_timedelta(-t[::-1], unit="s")).rolling(win).median()
    after = after.to_numpy()[::-1]
    # deviation beyond both medians: set-point steps and the ramps between them lie in between
    lo, hi = np.minimum(before, after), np.maximum(before, after)
    ref = np.clip(p, lo, hi)
    dev = p - ref
    sigma = noise_sigma(p)
    out = np.abs(dev) > np.maximum(k_sigma * sigma, rel * np.abs(ref))
    edges = np.flatnonzero(np.diff(np.concatenate(([0], out.astype(np.int8), [0]))))
    rows = []
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        k = a + int(np.argmax(np.abs(dev[a:b])))
        rows.append((t[a], t[b - 1], dev[k], ref[k]))
    return pd.DataFrame(rows, columns=cols)


def overpotential_pressure_correlation(eta: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Pearson r, Spearman ρ and the slope d|η|/dP (V/Pa) over steps with both values."""
    eta, p = np.abs(np.asarray(eta, dtype=float)), np.asarray(p, dtype=float)
    ok = np.isfinite(eta) & np.isfinite(p)
    if ok.sum() < 3 or np.ptp(p[ok]) == 0 or np.ptp(eta[ok]) == 0:
        return {}
    slope = float(np.polyfit(p[ok], eta[ok], 1)[0])
    return {
        "pearson_r": float(stats.pearsonr(p[ok], eta[ok]).statistic),
        "spearman_rho": float(stats.spearmanr(p[ok], eta[ok]).statistic),
        "slope_V_per_Pa": slope,
        "n_steps": int(ok.sum()),
    }
