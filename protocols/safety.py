"""Safety supervisor: every sample of every stream against the run's global limits.

It knows nothing of steps (only a per-step charge counter the engine resets at each step
start) and is fed before any step logic sees the samples. A limit trips after ``debounce``
consecutive samples beyond it (the count carries across blocks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from daq.debounce import sustained  # the debounce the detectors use, shared
from daq.units import format_quantity
from protocols.model import Limits

#: supervised quantity -> (unit kind, display unit) for messages
DISPLAY = {"voltage": ("voltage", "V"), "bias": ("voltage", "V"), "current": ("current", "mA"),
           "current_density": ("current_density", "mA/cm2"), "charge": ("charge", "mAh"),
           "capacity": ("areal_capacity", "mAh/cm2"), "pressure": ("pressure", "MPa"),
           "temperature": ("temperature", "degC")}  # fmt: skip


@dataclass(frozen=True)
class Trip:
    """Why the run tripped: which quantity, its value and limit, and the sample's run time."""

    quantity: str
    value: float
    limit: float
    time: float

    def message(self) -> str:
        """E.g. "voltage 1.00003 V beyond limit 1 V at t=12.3 s", in the units a user writes."""
        kind, unit = DISPLAY[self.quantity]
        value, limit = (format_quantity(x, kind, unit, 6) for x in (self.value, self.limit))
        return f"{self.quantity} {value} beyond limit {limit} at t={self.time:.6g} s"


class Supervisor:
    """Checks sample blocks against :class:`Limits`; returns the first :class:`Trip` or None."""

    def __init__(self, limits: Limits, area: float | None) -> None:
        self.limits = limits
        self.area = area
        self._carry: dict[str, int] = {}
        self.step_charge = 0.0
        self._last_t: float | None = None
        self.checked = 0

    def reset_step(self, t0: float) -> None:
        """A new step starts at ``t0``: the per-step charge counter restarts at zero."""
        self.step_charge = 0.0
        self._last_t = t0

    def _bounds(
        self, name: str, t: np.ndarray, x: np.ndarray, lo: float | None, hi: float | None
    ) -> Trip | None:
        if lo is None and hi is None:
            return None
        mask = np.zeros(x.shape, dtype=bool)
        if lo is not None:
            mask |= x < lo
        if hi is not None:
            mask |= x > hi
        hit, self._carry[name] = sustained(mask, self._carry.get(name, 0), self.limits.debounce)
        if hit < 0:
            return None
        value = float(x[hit])
        limit = hi if hi is not None and value > hi else lo
        return Trip(name, value, float(limit), float(t[hit]))

    def electro(self, t: np.ndarray, v: np.ndarray, i: np.ndarray) -> Trip | None:
        """Voltage, |current|, |current density| and per-step charge / capacity."""
        lim = self.limits
        self.checked += t.size
        if t.size == 0:
            return None
        checks = []
        if lim.voltage is not None:
            checks.append(("voltage", v, lim.voltage.min, lim.voltage.max))
        if lim.current is not None:
            checks.append(("current", np.abs(i), None, lim.current))
        if lim.current_density is not None and self.area:
            checks.append(("current_density", np.abs(i) / self.area, None, lim.current_density))
        if lim.charge is not None or lim.capacity is not None:
            prev = self._last_t if self._last_t is not None else t[0]
            q = np.abs(self.step_charge + np.cumsum(i * np.diff(t, prepend=prev)))
            self.step_charge = float(self.step_charge + np.sum(i * np.diff(t, prepend=prev)))
            self._last_t = float(t[-1])
            if lim.charge is not None:
                checks.append(("charge", q, None, lim.charge))
            if lim.capacity is not None and self.area:
                checks.append(("capacity", q / self.area, None, lim.capacity))
        return self._first(t, checks)

    def _first(self, t: np.ndarray, checks: list) -> Trip | None:
        trips = [trip for name, x, lo, hi in checks if (trip := self._bounds(name, t, x, lo, hi))]
        return min(trips, key=lambda trip: trip.time) if trips else None

    def pressure(self, t: np.ndarray, p: np.ndarray) -> Trip | None:
        rng = self.limits.pressure
        self.checked += t.size
        return None if rng is None else self._bounds("pressure", t, p, rng.min, rng.max)

    def temperature(self, t: np.ndarray, temp: np.ndarray) -> Trip | None:
        rng = self.limits.temperature
        self.checked += t.size
        return None if rng is None else self._bounds("temperature", t, temp, rng.min, rng.max)

    def bias(self, t: np.ndarray, v: np.ndarray, i: np.ndarray) -> Trip | None:
        self.checked += t.size
        lim = self.limits.bias
        return None if lim is None else self._bounds("bias", t, np.abs(v), None, lim)
