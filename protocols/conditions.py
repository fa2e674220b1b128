"""End-condition watch for one running step: which condition fires first, and when.

Sample-based criteria are evaluated vectorised on each block; the earliest firing sample wins.
``time`` is checked on the clock so a step ends on time even with sparse samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from daq.units import format_quantity
from protocols.steps.base import EndCondition

#: detector event kind -> end-condition event name
DETECTOR_EVENTS = {"hard_short": "short", "soft_short": "soft_short", "void_onset": "void_onset"}


@dataclass(frozen=True)
class Fired:
    """An end condition that fired at run time ``time`` with the measured ``value``."""

    condition: EndCondition
    time: float
    value: float | str


class EndWatch:
    """Tracks one step's end conditions from its start time ``t0`` (run clock, s)."""

    def __init__(self, conditions: list[EndCondition], t0: float, area: float | None,
                 dvdt_window: float = 1.0) -> None:  # fmt: skip
        self.conditions = conditions
        self.t0 = t0
        self.area = area
        self.charge = 0.0
        self.fired: Fired | None = None
        self._last_t: float | None = None
        self._window = dvdt_window
        self._hist_t = np.empty(0)
        self._hist_v = np.empty(0)
        self._needs_dvdt = any(
            c.dvdt_above is not None or c.dvdt_below is not None for c in conditions
        )

    def shift(self, seconds: float) -> None:
        """Exclude a pause of ``seconds`` from the step's elapsed time."""
        self.t0 += seconds

    def _take(self, cond: EndCondition, t: float, value: float | str) -> None:
        if self.fired is None or t < self.fired.time:
            self.fired = Fired(cond, t, value)

    def clock(self, now: float) -> Fired | None:
        """Time conditions against the run clock."""
        for cond in self.conditions:
            if cond.time is not None and now - self.t0 >= cond.time - 1e-9:
                self._take(cond, self.t0 + cond.time, now - self.t0)
        return self.fired

    def samples(
        self, t: np.ndarray, v: np.ndarray, i: np.ndarray, compliance: np.ndarray | None = None
    ) -> Fired | None:
        """Electrochemical (or bias) samples: V, I, charge, capacity, dV/dt, compliance."""
        if t.size == 0:
            return self.fired
        prev = self._last_t if self._last_t is not None else self.t0
        q = self.charge + np.cumsum(i * np.diff(t, prepend=prev))
        self.charge, self._last_t = float(q[-1]), float(t[-1])
        dvdt = self._dvdt(t, v) if self._needs_dvdt else None
        elapsed = t - self.t0
        for cond in self.conditions:
            x = self._series(cond, v, i, q, dvdt, compliance)
            if x is None:
                continue
            mask, values = x
            if cond.after is not None:
                mask = mask & (elapsed >= cond.after)
            hit = np.flatnonzero(mask)
            if hit.size:
                self._take(cond, float(t[hit[0]]), float(values[hit[0]]))
        return self.fired

    def _series(self, cond, v, i, q, dvdt, compliance):
        """(mask, values) for a sample criterion, None when it is not one."""
        c = cond.criterion
        if c == "charge":
            return np.abs(q) >= cond.charge, np.abs(q)
        if c == "capacity" and self.area:
            cap = np.abs(q) / self.area
            return cap >= cond.capacity, cap
        if c in ("voltage_above", "voltage_below"):
            return (v > cond.value if c == "voltage_above" else v < cond.value), v
        if c in ("abs_voltage_above", "abs_voltage_below"):
            av = np.abs(v)
            return (av > cond.value if c == "abs_voltage_above" else av < cond.value), av
        if c in ("current_above", "current_below"):
            ai = np.abs(i)
            return (ai > cond.value if c == "current_above" else ai < cond.value), ai
        if c in ("current_density_above", "current_density_below") and self.area:
            j = np.abs(i) / self.area
            return (j > cond.value if c == "current_density_above" else j < cond.value), j
        if c in ("dvdt_above", "dvdt_below") and dvdt is not None:
            valid = np.isfinite(dvdt)
            a = np.abs(np.where(valid, dvdt, 0.0))
            return valid & (a > cond.value if c == "dvdt_above" else a < cond.value), a
        if (
            c == "event"
            and cond.event == "compliance"
            and compliance is not None
            and compliance.size
        ):
            return compliance.astype(bool), compliance.astype(float)
        return None

    def _dvdt(self, t: np.ndarray, v: np.ndarray) -> np.ndarray:
        """dV/dt over the trailing window for each sample (NaN until a window has passed)."""
        ht = np.concatenate((self._hist_t, t))
        hv = np.concatenate((self._hist_v, v))
        j = np.searchsorted(ht, t - self._window, side="right") - 1
        ok = j >= 0
        js = np.where(ok, j, 0)
        span = t - ht[js]
        out = np.where(ok & (span > 0), (v - hv[js]) / np.where(span > 0, span, 1.0), np.nan)
        keep = ht >= t[-1] - 2 * self._window
        self._hist_t, self._hist_v = ht[keep], hv[keep]
        return out

    def pressure(self, t: np.ndarray, p: np.ndarray) -> Fired | None:
        for cond in self.conditions:
            if cond.pressure_above is not None or cond.pressure_below is not None:
                mask = (
                    p > cond.pressure_above
                    if cond.pressure_above is not None
                    else p < cond.pressure_below
                )
                if cond.after is not None:
                    mask = mask & (t - self.t0 >= cond.after)
                hit = np.flatnonzero(mask)
                if hit.size:
                    self._take(cond, float(t[hit[0]]), float(p[hit[0]]))
        return self.fired

    def event(self, name: str, time: float, confidence: float = 1.0) -> Fired | None:
        """A live detector event (``short``, ``soft_short``, ``void_onset``) and its confidence;
        a condition with ``min_confidence`` ignores less confident calls."""
        for cond in self.conditions:
            armed = cond.after is None or time - self.t0 >= cond.after
            sure = cond.min_confidence is None or confidence >= cond.min_confidence
            if cond.event == name and armed and sure:
                self._take(cond, time, name)
        return self.fired


#: end criterion -> (unit kind, display unit) of the value it fired on
_CRITERION_UNITS = {
    "time": ("time", "s"), "charge": ("charge", "mAh"), "capacity": ("areal_capacity", "mAh/cm2"),
    "voltage_above": ("voltage", "V"), "voltage_below": ("voltage", "V"),
    "abs_voltage_above": ("voltage", "V"), "abs_voltage_below": ("voltage", "V"),
    "dvdt_above": ("voltage_rate", "mV/s"), "dvdt_below": ("voltage_rate", "mV/s"),
    "current_above": ("current", "mA"), "current_below": ("current", "mA"),
    "current_density_above": ("current_density", "mA/cm2"),
    "current_density_below": ("current_density", "mA/cm2"),
    "pressure_above": ("pressure", "MPa"), "pressure_below": ("pressure", "MPa"),
}  # fmt: skip


def criterion_value(criterion: str, value: float | str) -> str:
    """The value an end condition fired on, in the unit a user writes (``0.831 mV``)."""
    if criterion not in _CRITERION_UNITS or isinstance(value, str):
        return str(value)
    kind, unit = _CRITERION_UNITS[criterion]
    return format_quantity(float(value), kind, unit)
