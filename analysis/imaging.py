"""In situ TEM imaging: kymograph, Li front position and velocity, filling efficiency.

The tubule axis runs along image x. The kymograph averages a band of rows (auto: the rows whose
intensity changes most over time) into one line per frame. The Li front is the end of the
contiguous "filled" run from the origin side, with filled = intensity beyond the midpoint of
the kymograph's 5th–95th percentile range (Li darker or brighter, ``li_brighter``).
Filling efficiency = plated volume π(d/2)²·Δx over the volume the charge should plate,
|Q|·Ω/e with Ω = 21.6 Å³ per Li atom (physics-creep.md §2.1, §4 "Li filling ratio").
"""

from __future__ import annotations

import numpy as np

from analysis.errors import AnalysisError
from analysis.model import Frames

#: Volume of Li plated per coulomb: Ω / e (m³/C), Ω = 21.6 Å³ (physics-creep.md §2.2).
LI_M3_PER_C = 21.6e-30 / 1.602176634e-19


def kymograph(frames: Frames, rows: slice | None = None) -> np.ndarray:
    """(n_frames, width) mean intensity over a band of rows along the tubule axis."""
    img = np.asarray(frames.images, dtype=float)
    if img.ndim != 3 or img.shape[0] == 0:
        raise AnalysisError(f"frames must be a (n, height, width) stack, got shape {img.shape}")
    if rows is None:
        var = img.var(axis=0).mean(axis=1)
        band = np.flatnonzero(var >= 0.5 * var.max()) if var.max() > 0 else np.arange(img.shape[1])
        rows = slice(int(band.min()), int(band.max()) + 1)
    return img[:, rows, :].mean(axis=1)


def front_positions(
    kymo: np.ndarray, pixel_size_m: float, *, from_left: bool = True, li_brighter: bool = False
) -> np.ndarray:
    """Li front position (m from the origin side) per kymograph line."""
    k = kymo if from_left else kymo[:, ::-1]
    lo, hi = np.percentile(k, [5, 95])
    if hi <= lo:
        return np.zeros(k.shape[0])
    kern = np.ones(3) / 3
    smooth = np.apply_along_axis(lambda r: np.convolve(r, kern, mode="same"), 1, k)
    mid = 0.5 * (lo + hi)
    filled = smooth > mid if li_brighter else smooth < mid
    empty = ~filled
    first_empty = np.where(empty.any(axis=1), empty.argmax(axis=1), k.shape[1])
    return first_empty * pixel_size_m


def front_velocity(times: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Front velocity (m/s) per frame, by central differences on irregular times."""
    if len(times) < 2:
        return np.zeros(len(times))
    return np.gradient(np.asarray(positions, dtype=float), np.asarray(times, dtype=float))


def filling_efficiency(delta_x_m: float, charge_c: float, inner_diameter_m: float) -> float:
    """Plated Li volume seen in the images over the volume the passed charge should plate."""
    if charge_c == 0:
        raise AnalysisError("filling efficiency needs a non-zero charge")
    plated = np.pi * (inner_diameter_m / 2) ** 2 * abs(delta_x_m)
    return float(plated / (abs(charge_c) * LI_M3_PER_C))
