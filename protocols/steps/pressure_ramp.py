"""``pressure_ramp``: ramp the stack pressure to a value at a rate or over a duration."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from protocols.quantities import Duration, Pressure, PressureRate
from protocols.steps.base import StepBase, StepContext, StepType
from protocols.steps.commands import EndRun, Plan, ReadPressure, SetPressure, WaitUntil


class PressureRamp(StepBase):
    """Ramp the stack pressure to ``to`` at ``rate`` or over ``duration``, ending when settled."""

    type: Literal["pressure_ramp"]
    to: Pressure
    rate: PressureRate | None = None
    duration: Duration | None = None
    timeout: Duration | None = None

    @model_validator(mode="after")
    def _rate_or_duration(self) -> PressureRamp:
        if (self.rate is None) == (self.duration is None):
            raise ValueError("give exactly one of 'rate' or 'duration'")
        return self


def execute(step: PressureRamp, ctx: StepContext) -> Plan:
    rate = step.rate
    if rate is None:
        start = (yield ReadPressure()).pressure
        rate = max(abs(step.to - start), 1.0) / step.duration
    yield SetPressure(step.to, rate)
    if not (yield WaitUntil("pressure_settled", step.timeout, since_command=True)):
        yield EndRun(
            "failed", f"{ctx.name}: pressure ramp did not settle within {step.timeout:g} s"
        )


STEP = StepType(PressureRamp, "pressure_rig", execute)
