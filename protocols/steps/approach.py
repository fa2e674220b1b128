"""``approach``: TEM/STM holder — coarse steps, then fine steps under bias until contact."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from protocols.quantities import Length, PositiveCurrent, Voltage
from protocols.steps import commands as c
from protocols.steps.base import StepBase, StepContext, StepType


class Approach(StepBase):
    """TEM/STM holder: ``coarse_steps`` stick-slip steps toward the sample, then fine steps
    of ``step`` under ``probe_bias`` until the current reaches ``threshold_current``."""

    type: Literal["approach"]
    threshold_current: PositiveCurrent
    probe_bias: Voltage
    step: Length
    max_travel: Length
    coarse_steps: int = Field(0, ge=0)
    on_no_contact: Literal["stop", "next"] = "stop"


def execute(step: Approach, ctx: StepContext) -> c.Plan:
    contact, position = yield c.Approach(step.coarse_steps, step.threshold_current,
                                         step.probe_bias, step.step, step.max_travel)  # fmt: skip
    yield c.Emit("approach", "contact" if contact else "no contact within max_travel",
                 {"contact": bool(contact), "position": list(position)})  # fmt: skip
    if not contact and step.on_no_contact == "stop":
        yield c.EndRun("stopped", f"{ctx.name}: no contact within {step.max_travel:g} m")


STEP = StepType(Approach, "bias_holder", execute)
