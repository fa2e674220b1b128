"""``wait``: until the pressure settles, the temperature is stable, or another track signals."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from protocols.quantities import Duration
from protocols.steps.base import StepBase, StepContext, StepType
from protocols.steps.commands import Emit, EndRun, Plan, WaitSignal, WaitUntil


class Wait(StepBase):
    """Wait until the pressure settles, the temperature is stable, or another track signals."""

    type: Literal["wait"]
    until: Literal["pressure_settled", "temperature_stable", "event"]
    event: str | None = None
    timeout: Duration | None = None
    on_timeout: Literal["stop", "next"] = "stop"

    @model_validator(mode="after")
    def _event_named(self) -> Wait:
        if (self.until == "event") != (self.event is not None):
            raise ValueError("'event' is required with until: event, and only then")
        return self


def execute(step: Wait, ctx: StepContext) -> Plan:
    if step.until == "event":
        ready = yield WaitSignal(step.event, step.timeout)
    else:
        ready = yield WaitUntil(step.until, step.timeout)
    if ready:
        return None
    yield Emit("timeout", f"{ctx.name}: waited {step.timeout:g} s for {step.until}",
               {"on_timeout": step.on_timeout})  # fmt: skip
    if step.on_timeout == "stop":
        yield EndRun("stopped", f"{ctx.name}: timed out waiting for {step.event or step.until}")
    return None


STEP = StepType(Wait, None, execute)
