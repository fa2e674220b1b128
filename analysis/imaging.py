"""In situ TEM imaging: kymograph, Li front position and velocity, filling efficiency.

The tubule axis runs along image x. The kymograph averages a band of rows (auto: the rows whose
intensity changes most over time) into one line per frame. The Li front is the end of the first
"filled" run at or after the origin (the tubule mouth), with filled = intensity beyond the
midpoint of the 5th–95th percentile range of the columns that change over time (filled vs empty
tubule; Li darker or brighter, ``li_brighter``).
Filling efficiency = plated volume π(d/2)²·Δx over the volume the charge should plate,
|Q|·Ω/e with Ω = 21.6 Å³ per Li atom (physics-creep.md §2.1, §4 "Li filling ratio").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.model import Frames

#: Volume of Li plated per coulomb: Ω / e (m³/C), Ω = 21.6 Å³ (physics-creep.md §2.2).
LI_M3_PER_C = 21.6e-30 / 1.602176634e-19


def kymograph(
    frames: Frames, rows: slice | None = None, *, li_brighter: bool = False
) -> np.ndarray:
    """(n_frames, width) line along the tubule axis: per column, the extreme over a band of rows.

    The band (auto: every row whose intensity changes over time, plus one row each side)
    covers the lumen wherever stage drift moves it; taking the darkest pixel of the band per
    column (brightest with ``li_brighter``) reads Li where it is and the wall where the lumen
    is empty, so slow row drift does not blur the contrast.
    """
    img = np.asarray(frames.images, dtype=float)
    if img.ndim != 3 or img.shape[0] == 0:
        raise AnalysisError(f"frames must be a (n, height, width) stack, got shape {img.shape}")
    if rows is None:
        var = img.var(axis=0).mean(axis=1)
        band = np.flatnonzero(var >= 0.1 * var.max()) if var.max() > 0 else np.arange(img.shape[1])
        rows = slice(max(int(band.min()) - 1, 0), int(band.max()) + 2)
    stack = img[:, rows, :]
    return stack.max(axis=1) if li_brighter else stack.min(axis=1)


def front_positions(
    kymo: np.ndarray,
    pixel_size_m: float,
    *,
    origin_px: int | None = None,
    from_left: bool = True,
    li_brighter: bool = False,
) -> np.ndarray:
    """Li front position per kymograph line, in m from the origin column (the tubule mouth).

    The front is the end of the first filled run at or after the origin. Without
    ``origin_px`` the origin is the first column whose intensity changes over time (the
    nearest point the Li ever reaches or leaves), so positions are relative to it.
    """
    k = kymo if from_left else kymo[:, ::-1]
    std = k.std(axis=0)
    if std.max() <= 0:
        return np.zeros(k.shape[0])
    moving = std >= 0.5 * std.max()  # columns the front passes: Li vs empty tubule contrast
    lo, hi = np.percentile(k[:, moving], [5, 95])
    mid = 0.5 * (lo + hi)
    filled = _clean_runs(k > mid if li_brighter else k < mid)
    if origin_px is None:
        origin_px = int(np.argmax(moving))
    sub = _clean_runs(filled[:, origin_px:])  # again: the probe's edge may poke past the origin
    cols = np.arange(sub.shape[1])
    has = sub.any(axis=1)
    first = np.argmax(sub, axis=1)
    gap = ~sub & (cols[None, :] >= first[:, None])
    end = np.where(gap.any(axis=1), np.argmax(gap, axis=1), sub.shape[1])
    return np.where(has, end, 0) * pixel_size_m


def _clean_runs(filled: np.ndarray, min_px: int = 3) -> np.ndarray:
    """Per line: close gaps shorter than ``min_px`` pixels, then drop runs shorter than that."""
    out = filled.copy()
    for row in out:
        for value in (False, True):  # first bridge short gaps, then remove short specks
            edges = np.flatnonzero(
                np.diff(np.concatenate(([not value], row == value, [not value])).astype(np.int8))
            )
            for a, b in zip(edges[::2], edges[1::2], strict=True):
                interior = a > 0 and b < row.size
                if b - a < min_px and (interior or value):
                    row[a:b] = not value
    return out


def front_velocity(times: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Front velocity (m/s) per frame, by central differences on irregular times."""
    if len(times) < 2:
        return np.zeros(len(times))
    return np.gradient(np.asarray(positions, dtype=float), np.asarray(times, dtype=float))


def filling_efficiency(
    front_m: np.ndarray, charge_at: np.ndarray, inner_diameter_m: float
) -> float:
    """Plated Li volume seen in the images over the volume the passed charge should plate.

    Summed over the frame intervals in which the front advances (plating), so stripping,
    a full tubule (overflow) and a stalled front do not enter: π(d/2)²·ΣΔx / (Ω/e · Σ|ΔQ|),
    with ``charge_at`` the cumulative holder charge (C) at each frame time.
    """
    dx = np.diff(np.asarray(front_m, dtype=float))
    dq = np.abs(np.diff(np.asarray(charge_at, dtype=float)))
    advancing = dx > 0
    q = float(dq[advancing].sum())
    if q == 0:
        raise AnalysisError(
            "filling efficiency needs frames in which the front advances under current"
        )
    plated = np.pi * (inner_diameter_m / 2) ** 2 * float(dx[advancing].sum())
    return float(plated / (q * LI_M3_PER_C))


def plating_speed(times: np.ndarray, positions: np.ndarray) -> float:
    """Robust plating (front advance) speed: median over advancing stretches, NaN if none.

    A stretch is a maximal run of frame intervals without retreat, from its first to its last
    advancing interval; its speed is net advance over that time. Retreats (stripping, the
    sudden drop when Li leaves the field of view) never enter, and one-frame jumps count as one
    stretch among many rather than as the maximum.
    """
    t = np.asarray(times, dtype=float)
    dx = np.diff(np.asarray(positions, dtype=float))
    dt = np.diff(t)
    speeds = []
    start = 0
    for stop in [*np.flatnonzero(dx < 0), dx.size]:
        adv = np.flatnonzero(dx[start:stop] > 0) + start
        if adv.size:
            a, b = int(adv[0]), int(adv[-1])
            span = float(dt[a : b + 1].sum())
            if span > 0:
                speeds.append(float(dx[a : b + 1].sum()) / span)
        start = stop + 1
    return float(np.median(speeds)) if speeds else float("nan")


def bias_steps(
    holder: pd.DataFrame,
    front_time: np.ndarray | None = None,
    front: np.ndarray | None = None,
    inner_diameter_m: float | None = None,
) -> pd.DataFrame:
    """One row per constant-bias step of the holder stream: span, bias, charge, mean current,
    and (with a front trace) the front advance and advance per coulomb of that step; with the
    front in metres and the tubule's inner diameter, the step's filling efficiency
    π(d/2)²·Δx / (|Q|·Ω/e) for steps that advance the front."""
    t = holder["time"].to_numpy(dtype=float)
    b = holder["bias"].to_numpy(dtype=float)
    i = holder["current"].to_numpy(dtype=float)
    cut = np.flatnonzero(np.abs(np.diff(b)) > 1e-3 * max(float(np.abs(b).max()), 1e-3)) + 1
    starts = np.concatenate(([0], cut))
    ends = np.concatenate((cut, [t.size]))
    rows = []
    for k, (a, e) in enumerate(zip(starts, ends, strict=True)):
        t_end = t[e] if e < t.size else t[-1]
        tt = np.append(t[a:e], t_end)
        ii = np.append(i[a:e], i[e - 1])
        charge = float(np.sum(0.5 * (ii[1:] + ii[:-1]) * np.diff(tt)))
        row = {
            "step": k,
            "start_time": float(t[a]),
            "end_time": float(t_end),
            "bias": float(np.median(b[a:e])),
            "charge": charge,
            "mean_current": charge / (t_end - t[a]) if t_end > t[a] else float(i[a]),
        }
        if front_time is not None and front is not None and len(front_time) > 1:
            x0, x1 = np.interp([t[a], t[e - 1]], front_time, front)  # last sample in the step
            row["front_advance"] = float(x1 - x0)
            row["advance_per_C"] = float((x1 - x0) / abs(charge)) if charge else float("nan")
            if inner_diameter_m:
                row["filling_efficiency"] = (
                    float(
                        np.pi
                        * (inner_diameter_m / 2) ** 2
                        * (x1 - x0)
                        / (abs(charge) * LI_M3_PER_C)
                    )
                    if charge and x1 > x0
                    else float("nan")
                )
        rows.append(row)
    return pd.DataFrame(rows)
