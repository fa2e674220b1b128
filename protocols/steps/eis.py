"""``eis``: one impedance sweep, potentiostatic or galvanostatic, at a DC level or at open circuit.

Frequencies are log-spaced from ``f_start`` to ``f_end`` (``points`` in all, or
``points_per_decade``). Potentiostatic: ``amplitude`` (V) around ``dc_voltage`` (V), or around
the open-circuit voltage measured first when ``dc_voltage`` is not given. Galvanostatic:
``current_amplitude`` (A) around ``dc_current`` (A, default 0 = open circuit). The sweep's
points go to the run file's ``impedance`` stream; an ``eis`` event summarises it. A sweep
longer than ``max_duration`` is refused by ``validate`` and stopped by the engine; an abort or
pause stops it with the cell at open circuit.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import model_validator

from protocols.quantities import Current, Duration, Frequency, PositiveCurrent, Voltage
from protocols.steps.base import StepBase, StepContext, StepType
from protocols.steps.commands import Emit, Impedance, Plan


class Eis(StepBase):
    """One impedance sweep (see the module docstring)."""

    type: Literal["eis"]
    mode: Literal["potentiostatic", "galvanostatic"] = "potentiostatic"
    f_start: Frequency
    f_end: Frequency
    points: int | None = None
    points_per_decade: float | None = None
    amplitude: Voltage | None = None
    dc_voltage: Voltage | None = None
    current_amplitude: PositiveCurrent | None = None
    dc_current: Current | None = None
    max_duration: Duration | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Eis:
        if (self.points is None) == (self.points_per_decade is None):
            raise ValueError("give exactly one of 'points' or 'points_per_decade'")
        if self.points is not None and not 1 <= self.points <= 1000:
            raise ValueError(f"points must be 1-1000, got {self.points}")
        if self.points_per_decade is not None and not 0 < self.points_per_decade <= 100:
            raise ValueError(f"points_per_decade must be in (0, 100], got {self.points_per_decade}")
        galvanostatic = self.mode == "galvanostatic"
        if galvanostatic and (self.current_amplitude is None or self.amplitude is not None
                              or self.dc_voltage is not None):  # fmt: skip
            raise ValueError("galvanostatic EIS takes current_amplitude (and dc_current), not amplitude / dc_voltage")  # fmt: skip
        if not galvanostatic and (self.amplitude is None or self.current_amplitude is not None
                                  or self.dc_current is not None):  # fmt: skip
            raise ValueError("potentiostatic EIS takes amplitude (and dc_voltage), not current_amplitude / dc_current")  # fmt: skip
        if self.amplitude is not None and not self.amplitude > 0:
            raise ValueError(f"amplitude must be > 0, got {self.amplitude}")
        return self

    @property
    def n_points(self) -> int:
        if self.points is not None:
            return self.points
        decades = abs(math.log10(self.f_start / self.f_end))
        return max(round(decades * self.points_per_decade) + 1, 2)


def execute(step: Eis, ctx: StepContext) -> Plan:
    galvanostatic = step.mode == "galvanostatic"
    command = Impedance(
        f_start=step.f_start,
        f_end=step.f_end,
        points=step.n_points,
        amplitude=step.current_amplitude if galvanostatic else step.amplitude,
        dc_level=step.dc_current if galvanostatic else step.dc_voltage,
        galvanostatic=galvanostatic,
        max_duration=step.max_duration,
    )
    spectrum = yield command
    if spectrum is None:  # the dry run measures nothing
        return None
    n = len(spectrum.frequency)
    low = f"|Z| {spectrum.modulus[-1]:.4g} ohm at {spectrum.frequency[-1]:.3g} Hz" if n else "no points"  # fmt: skip
    state = "complete" if spectrum.complete else "stopped early"
    yield Emit("eis", f"{ctx.name}: sweep of {n} points {state}, {low}",
               {"points": n, "complete": bool(spectrum.complete), "dc_level": spectrum.dc_level,
                "amplitude": spectrum.amplitude, "galvanostatic": galvanostatic})  # fmt: skip
    return None


def check(step: Eis, limits) -> list[str]:
    """Found before the run: a ``max_duration`` shorter than the sweep itself, and a DC level
    whose excitation peaks reach beyond the run's voltage or current limits."""
    from drivers.sweeps import eis_duration_estimate

    problems = []
    takes = eis_duration_estimate(step.f_start, step.f_end, step.n_points)
    if step.max_duration is not None and takes > step.max_duration:
        problems.append(f"the sweep takes about {takes:.0f} s, longer than max_duration {step.max_duration:g} s")  # fmt: skip
    if step.mode == "potentiostatic" and step.dc_voltage is not None and limits.voltage is not None:
        low, high = step.dc_voltage - step.amplitude, step.dc_voltage + step.amplitude
        if (limits.voltage.min is not None and low < limits.voltage.min) or (
            limits.voltage.max is not None and high > limits.voltage.max
        ):
            problems.append(f"dc_voltage {step.dc_voltage:g} V ± amplitude {step.amplitude:g} V "
                            "reaches beyond the voltage limits")  # fmt: skip
    if step.mode == "galvanostatic" and limits.current is not None:
        peak = abs(step.dc_current or 0.0) + step.current_amplitude
        if peak > limits.current:
            problems.append(f"dc_current ± current_amplitude reaches {peak:g} A, beyond the "
                            f"current limit {limits.current:g} A")  # fmt: skip
    return problems


STEP = StepType(Eis, "potentiostat", execute, check=check,
                technique=lambda step: "geis" if step.mode == "galvanostatic" else "eis")  # fmt: skip
