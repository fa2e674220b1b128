"""Force control law of the software pressure loop: PI(D) with feed-forward and anti-windup.

Pure arithmetic, no I/O, so it is tested on its own. The plant is a screw actuator pushing a
stack: force rises with displacement at roughly the stack stiffness ``k``. The law outputs an
actuator velocity ``v = (ff + kp*e + I + D) / k`` (m/s) where ``e`` is the error against the
reference the present reading was aimed at and ``ff`` the reference's rate over the coming
iteration (the move made now shows in the next reading); the integral ``I`` is frozen whenever the output saturates (speed or travel limit)
in the direction it would push further (conditional integration = anti-windup).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class LoopGains:
    """``kp`` 1/s, ``ki`` 1/s², ``kd`` dimensionless; ``stiffness`` N/m converts N/s to m/s."""

    kp: float = 2.0
    ki: float = 1.0
    kd: float = 0.0
    stiffness: float = 2e7

    def __post_init__(self) -> None:
        for name in ("kp", "ki", "kd"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"gain {name} must be a finite number >= 0, got {value}")
        if not math.isfinite(self.stiffness) or self.stiffness <= 0:
            raise ValueError(f"stiffness must be > 0 N/m, got {self.stiffness}")


class ForceLoop:
    """Tracks a rate-limited force reference and returns the actuator move per iteration."""

    def __init__(self, gains: LoopGains, max_speed: float) -> None:
        if not max_speed > 0:
            raise ValueError(f"max_speed must be > 0 m/s, got {max_speed}")
        self.gains = gains
        self.max_speed = max_speed
        self.target = 0.0  # N, final setpoint
        self.reference = 0.0  # N, ramped reference the loop follows now
        self.rate = math.inf  # N/s
        self.integral = 0.0  # N/s
        self._last_force: float | None = None

    def engage(self, force_now: float, target: float, rate: float) -> None:
        """Start (or retarget) from the present force: bumpless, reference ramps at ``rate``."""
        if self._last_force is None:
            self.reference = force_now
            self.integral = 0.0
        self.target = target
        self.rate = rate

    def reset(self) -> None:
        """Forget the loop state (after hold, release or a fault)."""
        self.integral = 0.0
        self._last_force = None

    @property
    def ramp_done(self) -> bool:
        return self.reference == self.target

    def step(self, force: float, dt: float, room_up: float, room_down: float) -> float:
        """Displacement (m, + compresses) for this iteration of length ``dt`` s.

        ``room_up`` / ``room_down`` (m, >= 0) are how far the actuator may still go each way
        (travel limits, force ceiling); the output never exceeds them.
        """
        g = self.gains
        error = self.reference - force  # against the reference this reading was aimed at
        delta = self.target - self.reference
        ramp = max(-self.rate * dt, min(self.rate * dt, delta))
        self.reference += ramp  # what the next reading should show
        feed_forward = ramp / dt if dt > 0 else 0.0
        derivative = 0.0
        if self._last_force is not None and dt > 0:
            derivative = -g.kd * (force - self._last_force) / dt
        self._last_force = force
        candidate = self.integral + g.ki * error * dt
        rate = feed_forward + g.kp * error + candidate + derivative
        move = rate / g.stiffness * dt
        limit_up = min(self.max_speed * dt, room_up)
        limit_down = min(self.max_speed * dt, room_down)
        saturated = move > limit_up or move < -limit_down
        pushing_further = (move > 0 and error > 0) or (move < 0 and error < 0)
        if not (saturated and pushing_further):
            self.integral = candidate
        return max(-limit_down, min(limit_up, move))
