"""``pressure_hold``: hold the stack pressure until an end condition fires."""

from __future__ import annotations

from typing import Literal

from protocols.quantities import Pressure
from protocols.steps.base import Ended, StepContext, StepType
from protocols.steps.commands import Plan, SetPressure, WaitEnd


class PressureHold(Ended):
    """Hold the stack pressure (at ``pressure`` or the present setpoint) until an end fires."""

    type: Literal["pressure_hold"]
    pressure: Pressure | None = None


def execute(step: PressureHold, ctx: StepContext) -> Plan:
    if step.pressure is not None:
        yield SetPressure(step.pressure)
    return (yield WaitEnd())


STEP = StepType(PressureHold, "pressure_rig", execute,
                frozenset({"time", "pressure_above", "pressure_below", "event"}))  # fmt: skip
