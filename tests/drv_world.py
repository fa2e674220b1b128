"""Test-only world double with the SimWorld ports the instrument emulators use.

Small, explicit physics so driver tests have known answers: a linear stack (stiffness above a
contact gap) with a slow creep relaxation, an STM-like probe that touches at a known height,
a first-order thermal stage and a synthetic camera.
"""

from __future__ import annotations

import numpy as np

from daq.clock import VirtualClock


class DriverTestWorld:
    """Implements the SimWorld ports used by the press, holder, thermal and camera emulators."""

    def __init__(self, seed: int = 0, clock: VirtualClock | None = None) -> None:
        self.clock = clock or VirtualClock()
        self.rng = np.random.default_rng(seed)
        # press: 0.1 um per step, 20 N/um stack, contact after 50 um, 0.3 N load-cell noise
        self.step_m = 1e-7
        self.steps = 0
        self.stiffness = 2e7
        self.gap_m = 50e-6
        self.noise_N = 0.3
        self.creep_m = 0.0
        self.creep_rate = 2e-13  # m/s per N of load: slow relaxation at fixed position
        self._t_creep = self.clock.now()
        # holder: probe z touches the sample at 2 um; 1 GOhm contact
        self.pos = [0.0, 0.0, 0.0]
        self.contact_z = 2e-6
        self.bias = (0.0, 1e-6)
        # thermal stage
        self.t_set = 298.15
        self.t_now = 298.15
        self.tau_s = 60.0
        self._t_thermal = self.clock.now()

    # -- press ---------------------------------------------------------------------------------
    def _relax(self) -> None:
        now = self.clock.now()
        self.creep_m += self.creep_rate * self.stack_force_true_N() * (now - self._t_creep)
        self._t_creep = now

    def actuator_move_steps(self, steps: int) -> None:
        self._relax()
        self.steps += int(steps)

    def actuator_steps(self) -> int:
        return self.steps

    def actuator_step_size_m(self) -> float:
        return self.step_m

    def stack_force_true_N(self) -> float:
        return self.stiffness * max(0.0, self.steps * self.step_m - self.gap_m - self.creep_m)

    def load_cell_force_N(self) -> float:
        self._relax()
        return self.stack_force_true_N() + float(self.rng.normal(0.0, self.noise_N))

    # -- holder ---------------------------------------------------------------------------------
    def holder_move(self, axis: str, distance_m: float) -> None:
        self.pos["xyz".index(axis)] += distance_m

    def holder_position(self) -> tuple[float, float, float]:
        return tuple(self.pos)

    def holder_bias(self, voltage: float, limit_A: float) -> None:
        self.bias = (voltage, limit_A)

    def holder_measure(self) -> tuple[float, float, bool]:
        voltage, limit = self.bias
        current = voltage / 1e9 if self.pos[2] >= self.contact_z else 0.0
        if abs(current) > limit:
            return voltage, float(np.sign(current) * limit), True
        return voltage, current, False

    # -- thermal --------------------------------------------------------------------------------
    def _heat(self) -> None:
        now = self.clock.now()
        decay = np.exp(-(now - self._t_thermal) / self.tau_s)
        self.t_now = self.t_set + (self.t_now - self.t_set) * decay
        self._t_thermal = now

    def thermal_setpoint(self, kelvin: float) -> None:
        self._heat()
        self.t_set = kelvin

    def thermal_read_K(self) -> float:
        self._heat()
        return self.t_now

    # -- camera ---------------------------------------------------------------------------------
    def camera_frame(self) -> tuple[float, np.ndarray]:
        t = self.clock.now()
        image = np.full((32, 48), 1000, dtype=np.uint16)
        front = int(min(47, t))  # a dark front advancing 1 px/s
        image[10:20, :front] = 300
        return t, image
