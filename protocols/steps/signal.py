"""``signal``: emit a named event that steps on other tracks can wait for."""

from __future__ import annotations

from typing import Literal

from protocols.quantities import Name
from protocols.steps.base import StepBase, StepContext, StepType
from protocols.steps.commands import Plan, Signal


class SignalStep(StepBase):
    """Emit a named event that steps on other tracks can wait for."""

    type: Literal["signal"]
    name: Name


def execute(step: SignalStep, ctx: StepContext) -> Plan:
    yield Signal(step.name)


STEP = StepType(SignalStep, None, execute)
