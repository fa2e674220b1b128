"""Robust white-noise level of a sampled signal (a foundation: imports nothing of the project).

One estimator for the engine's block horizon (protocols/blocks.py), the live detectors and the
pressure analysis: the median absolute deviation of the signal's differences, scaled to a
Gaussian σ of one sample, so a smooth trend and the odd outlier do not inflate it.
"""

from __future__ import annotations

import math

import numpy as np

#: MAD -> standard deviation of a Gaussian
MAD_TO_SIGMA = 1.4826


def noise_sigma(x: np.ndarray, order: int = 1) -> float:
    """σ of one sample's noise in ``x`` from its ``order``-th differences (1: blind to a
    constant slope; 2: to a straight-line trend too); 0 for too few samples. White noise of σ
    gives ``order``-th differences of variance C(2·order, order)·σ²."""
    x = np.asarray(x, dtype=float)
    if x.size < order + 2:
        return 0.0
    d = np.diff(x, n=order)
    mad = float(np.median(np.abs(d - np.median(d))))
    return MAD_TO_SIGMA * mad / math.sqrt(math.comb(2 * order, order))
