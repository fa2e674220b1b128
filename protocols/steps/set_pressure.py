"""``set_pressure``: drive the stack pressure to a value (at a rate); by default wait until settled."""

from __future__ import annotations

from typing import Literal

from protocols.quantities import Duration, Pressure, PressureRate
from protocols.steps.base import StepBase, StepContext, StepType
from protocols.steps.commands import EndRun, Plan, SetPressure, WaitUntil


class SetPressureStep(StepBase):
    """Drive the stack pressure to ``pressure`` (at ``rate``); by default wait until settled."""

    type: Literal["set_pressure"]
    pressure: Pressure
    rate: PressureRate | None = None
    wait: bool = True
    timeout: Duration | None = None


def execute(step: SetPressureStep, ctx: StepContext) -> Plan:
    yield SetPressure(step.pressure, step.rate)
    if step.wait and not (yield WaitUntil("pressure_settled", step.timeout, since_command=True)):
        yield EndRun("failed", f"{ctx.name}: pressure did not settle within {step.timeout:g} s")


STEP = StepType(SetPressureStep, "pressure_rig", execute)
