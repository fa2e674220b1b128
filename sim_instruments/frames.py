"""Synthetic bright-field frames of the tubule array: metal-filled segments darker, noise, drift.

Tubules run along the image columns (the holder's z axis), mouths at column ``MOUTH_COL``.
Edges are rendered with exact sub-pixel area coverage so the true front position (ground truth)
can be recovered to a fraction of a pixel.
"""

from __future__ import annotations

import numpy as np

from sim_instruments import constants as C
from sim_instruments.tubule import TubuleModel

MOUTH_COL = 20.0


def _coverage(edges: np.ndarray, lo: np.ndarray | float, hi: np.ndarray | float) -> np.ndarray:
    """Fraction of each unit pixel [edges, edges + 1) covered by the interval [lo, hi)."""
    return np.clip(np.minimum(hi, edges + 1.0) - np.maximum(lo, edges), 0.0, 1.0)


def render(
    tubes: TubuleModel, drift_px: tuple[float, float], rng: np.random.Generator
) -> np.ndarray:
    """One uint16 frame of the tubules (and the probe tip) at their present state."""
    rows, cols = C.FRAME_SHAPE_PX
    px = C.FRAME_PIXEL_M
    dr, dc = drift_px
    r_edges = np.arange(rows, dtype=float)[:, None]
    c_edges = np.arange(cols, dtype=float)[None, :]
    img = np.full((rows, cols), C.FRAME_BACKGROUND_COUNTS)
    mouth = MOUTH_COL + dc
    end = mouth + tubes.length / px
    along = _coverage(c_edges, mouth, end)
    half_in = tubes.W / 2 / px
    half_out = half_in + C.TUBULE_WALL_M / px
    for i in range(tubes.count):
        centre = rows / 2 + tubes.y[i] / px + dr
        outer = _coverage(r_edges, centre - half_out, centre + half_out)
        inner = _coverage(r_edges, centre - half_in, centre + half_in)
        wall = (outer - inner) * along
        img += wall * (C.FRAME_WALL_COUNTS - C.FRAME_BACKGROUND_COUNTS)
        img += inner * along * (C.FRAME_LUMEN_COUNTS - C.FRAME_BACKGROUND_COUNTS)
        filled = _coverage(c_edges, mouth + tubes.seg_start[i] / px, mouth + tubes.seg_end[i] / px)
        img += inner * filled * (C.FRAME_LI_COUNTS - C.FRAME_LUMEN_COUNTS)
    x, y, z = tubes.position
    tip_col = mouth + z / px
    tip_row = rows / 2 + y / px + dr
    radius = C.PROBE_RADIUS_M / px
    rr = np.arange(rows)[:, None] + 0.5
    cc = np.arange(cols)[None, :] + 0.5
    probe = ((rr - tip_row) ** 2 + (cc - (tip_col - radius)) ** 2 <= radius**2) | (
        (np.abs(rr - tip_row) <= radius) & (cc < tip_col - radius)
    )
    img = np.where(probe, C.FRAME_PROBE_COUNTS, img)
    img += C.FRAME_NOISE_COUNTS * rng.standard_normal((rows, cols))
    return np.clip(np.rint(img), 0, 65535).astype(np.uint16)
