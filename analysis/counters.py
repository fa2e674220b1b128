"""The file's own capacity counters against our integrated step charge.

Cyclers keep charge/discharge capacity counters that reset per step, per cycle or never.
Per step the counter's increment is its last value minus the value just before the step
(or zero when the counter reset at the step's start).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Relative disagreement above which a step's charge and the file's counter are reported.
COUNTER_TOL = 0.01


def _increments(c: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Counter increment over each step, allowing resets at step starts."""
    last = c[ends - 1]
    before = np.where(starts > 0, c[np.maximum(starts - 1, 0)], 0.0)
    reset = (starts == 0) | (c[starts] < before - 1e-12 * np.maximum(np.abs(before), 1.0))
    return last - np.where(reset, 0.0, before)


def counter_charge(electro: pd.DataFrame, steps: pd.DataFrame) -> np.ndarray | None:
    """Per step: |charge| by the file's counters (C), NaN at rest; None without counters."""
    starts = steps["start_row"].to_numpy()
    ends = steps["end_row"].to_numpy()
    kind = steps["type"].to_numpy()
    out = np.full(len(steps), np.nan)
    if "q_step" in electro:
        q = _increments(np.abs(electro["q_step"].to_numpy(dtype=float)), starts, ends)
        out = np.where(kind != "rest", q, np.nan)
    elif {"q_charge", "q_discharge"} <= set(electro.columns):
        qc = _increments(electro["q_charge"].to_numpy(dtype=float), starts, ends)
        qd = _increments(electro["q_discharge"].to_numpy(dtype=float), starts, ends)
        out = np.where(kind == "strip", qc, np.where(kind == "plate", qd, np.nan))
    else:
        return None
    return out


def counter_check(steps: pd.DataFrame) -> tuple[float, list[str]]:
    """Largest relative difference (ours vs the file's counter) over steps that carry charge,
    and a warning when it exceeds :data:`COUNTER_TOL`."""
    if "counter_charge" not in steps:
        return float("nan"), []
    ours = steps["charge"].abs().to_numpy()
    theirs = steps["counter_charge"].to_numpy(dtype=float)
    ok = np.isfinite(theirs) & (theirs > 0)
    if ok.any():
        ok &= ours > 0.01 * np.median(ours[ok])
    if not ok.any():
        return float("nan"), []
    dev = (ours[ok] - theirs[ok]) / theirs[ok]
    j = int(np.argmax(np.abs(dev)))
    worst = float(dev[j])
    if abs(worst) <= COUNTER_TOL:
        return abs(worst), []
    step = int(steps["step"].to_numpy()[ok][j])
    n_bad = int(np.count_nonzero(np.abs(dev) > COUNTER_TOL))
    return abs(worst), [
        f"integrated charge disagrees with the file's capacity counter in {n_bad} step(s) "
        f"(worst: step {step}, {100 * worst:+.3g} %): check gaps, sign or units"
    ]
