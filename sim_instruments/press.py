"""Stack-pressure rig: screw actuator, frame stiffness, Li creep relaxation, load cell.

The stack force is F = k * max(0, x_actuator - x_0 + d_thickness - d_creep): the frame and stack
act as one spring of stiffness k; the cell's own height change (voids, plated Li) pushes on the
platens; the Li foils flow laterally by power-law creep (eq. 1, ees §0) at the confined stress
C * F/A, which relaxes the force at fixed actuator position.
"""

from __future__ import annotations

import math

import numpy as np

from sim_instruments import constants as C
from sim_instruments.cell import arrhenius


class PressModel:
    """Actuator position, true stack force and a noisy, drifting load-cell reading."""

    def __init__(self, area_m2: float, initial_pressure_Pa: float, rng: np.random.Generator):
        self.area = area_m2
        self.k = C.FRAME_STIFFNESS_N_PER_M
        self.step_m = C.ACTUATOR_STEP_M
        self.position_steps = 0.0
        self.target_steps = 0
        self.x0_m = -initial_pressure_Pa * area_m2 / self.k  # preload at assembly
        self.creep_m = 0.0
        self.thickness_change_m = 0.0
        self._rng = rng
        self._drift_walk_N = 0.0
        self._last_read_t = 0.0

    def force_N(self) -> float:
        x = self.position_steps * self.step_m - self.x0_m + self.thickness_change_m - self.creep_m
        return self.k * max(0.0, x)

    def pressure_Pa(self) -> float:
        return self.force_N() / self.area

    def move(self, steps: int) -> None:
        self.target_steps += steps

    def steps(self) -> int:
        return int(round(self.position_steps))

    def creep_rate_m_per_s(self, li_thickness_m: float, T: float) -> float:
        """Height loss rate of the Li foils flowing out under the platens."""
        sigma = C.LI_FOIL_CONFINEMENT * self.pressure_Pa()
        if sigma <= 0:
            return 0.0
        rate = (
            C.LI_FLOW_STRAIN_RATE_REF_PER_S
            * (sigma / C.LI_FLOW_STRESS_REF_PA) ** C.LI_CREEP_EXPONENT
            * arrhenius(C.LI_CREEP_ACTIVATION_J_PER_MOL, T)
        )
        return li_thickness_m * rate

    def max_step(self, li_thickness_m: float, T: float) -> float:
        dt = math.inf
        remaining = abs(self.target_steps - self.position_steps)
        if remaining > 0:
            dt = remaining / C.ACTUATOR_SPEED_STEPS_PER_S
        rate = self.creep_rate_m_per_s(li_thickness_m, T)
        if rate > 0:
            x = self.force_N() / self.k
            dt = min(dt, max(C.MAX_RELATIVE_CHANGE * x / rate, 1e-3))
        return dt

    def step(self, dt: float, li_thickness_m: float, T: float, thickness_change_m: float) -> None:
        move = C.ACTUATOR_SPEED_STEPS_PER_S * dt
        diff = self.target_steps - self.position_steps
        self.position_steps = (
            self.target_steps
            if abs(diff) <= move
            else (self.position_steps + math.copysign(move, diff))
        )
        self.creep_m += self.creep_rate_m_per_s(li_thickness_m, T) * dt
        self.thickness_change_m = thickness_change_m

    def read_load_cell(self, t: float) -> float:
        """Load-cell reading: true force + linear zero drift + random-walk drift + noise."""
        elapsed = max(t - self._last_read_t, 0.0)
        self._last_read_t = max(t, self._last_read_t)
        self._drift_walk_N += (
            C.LOAD_CELL_DRIFT_WALK_N_PER_SQRT_S * math.sqrt(elapsed) * (self._rng.standard_normal())
        )
        noise = C.LOAD_CELL_NOISE_N * self._rng.standard_normal()
        return self.force_N() + C.LOAD_CELL_DRIFT_N_PER_S * t + self._drift_walk_N + noise
