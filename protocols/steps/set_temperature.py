"""``set_temperature``: set the cell temperature; by default wait until it is stable."""

from __future__ import annotations

from typing import Literal

from protocols.quantities import Duration, Temperature
from protocols.steps.base import StepBase, StepContext, StepType
from protocols.steps.commands import EndRun, Plan, SetTemperature, WaitUntil


class SetTemperatureStep(StepBase):
    """Set the cell temperature; by default wait until the controller reports it stable."""

    type: Literal["set_temperature"]
    temperature: Temperature
    wait: bool = True
    timeout: Duration | None = None


def execute(step: SetTemperatureStep, ctx: StepContext) -> Plan:
    yield SetTemperature(step.temperature)
    if step.wait and not (yield WaitUntil("temperature_stable", step.timeout, since_command=True)):
        yield EndRun("failed", f"{ctx.name}: temperature not stable within {step.timeout:g} s")


STEP = StepType(SetTemperatureStep, "thermal", execute)
