"""Thermal stage: the cell temperature follows the setpoint with a first-order lag."""

from __future__ import annotations

import math

import numpy as np

from sim_instruments import constants as C


class ThermalModel:
    """True cell temperature and a noisy thermometer."""

    def __init__(self, temperature_K: float, rng: np.random.Generator) -> None:
        self.T = temperature_K
        self.setpoint = temperature_K
        self._rng = rng

    def set(self, setpoint_K: float) -> None:
        lo, hi = C.THERMAL_SETPOINT_RANGE_K
        if not lo <= setpoint_K <= hi:
            raise ValueError(
                f"thermal setpoint {setpoint_K} K outside the model's range {lo}-{hi} K "
                "(Li melts at 453.65 K)"
            )
        self.setpoint = setpoint_K

    def max_step(self) -> float:
        return C.THERMAL_TIME_CONSTANT_S / 10 if abs(self.setpoint - self.T) > 0.05 else math.inf

    def step(self, dt: float) -> None:
        self.T += (self.setpoint - self.T) * (1.0 - math.exp(-dt / C.THERMAL_TIME_CONSTANT_S))

    def read(self) -> float:
        return self.T + C.THERMAL_READ_NOISE_K * self._rng.standard_normal()
