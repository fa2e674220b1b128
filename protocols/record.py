"""Record rule: keep a sample when dt, |dV| or |dI| since the last kept one reaches its threshold.

Safety and detectors see every sample; the rule only decides what goes to the run file and
the display.
"""

from __future__ import annotations

import numpy as np

from protocols.steps.base import RecordRule


class RecordFilter:
    """Stateful decimator for one stream (state carries across blocks and steps)."""

    def __init__(self) -> None:
        self._t: float | None = None
        self._v = 0.0
        self._i = 0.0

    def keep(self, rule: RecordRule, t: np.ndarray, v: np.ndarray, i: np.ndarray) -> np.ndarray:
        """Boolean mask of the samples to record under ``rule``."""
        n = t.size
        if rule.records_everything or n == 0:
            if n:
                self._t, self._v, self._i = float(t[-1]), float(v[-1]), float(i[-1])
            return np.ones(n, dtype=bool)
        every = rule.every if rule.every is not None else np.inf
        dv = rule.dv if rule.dv is not None else np.inf
        di = rule.di if rule.di is not None else np.inf
        mask = np.zeros(n, dtype=bool)
        last_t, last_v, last_i = self._t, self._v, self._i
        tl, vl, il = t.tolist(), v.tolist(), i.tolist()
        for k in range(n):
            if (
                last_t is None
                or tl[k] - last_t >= every
                or abs(vl[k] - last_v) >= dv
                or abs(il[k] - last_i) >= di
            ):
                mask[k] = True
                last_t, last_v, last_i = tl[k], vl[k], il[k]
        self._t, self._v, self._i = last_t, last_v, last_i
        return mask
