"""Debounce on sample blocks: where ``need`` consecutive trues end, the run carried across blocks.

A foundation (imports nothing of the project) so the safety supervisor and the live detectors
share one definition without protocols importing analysis.
"""

from __future__ import annotations

import numpy as np


def sustained(
    mask: np.ndarray, carry: int, need: int, ready: np.ndarray | None = None
) -> tuple[int, int]:
    """First index where ``need`` consecutive trues end (and ``ready`` holds), or -1; run carried out."""
    n = mask.size
    if n == 0:
        return -1, carry
    idx = np.arange(n)
    last_false = np.where(~mask, idx, -1)
    np.maximum.accumulate(last_false, out=last_false)
    run = idx - last_false
    run = np.where(last_false < 0, run + carry, run)
    ok = run >= need if ready is None else (run >= need) & ready
    hit = np.flatnonzero(ok)
    return (int(hit[0]) if hit.size else -1), int(run[-1])
