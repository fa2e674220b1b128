"""``potentiostatic``: a constant voltage V(WE) − V(CE) until an end condition fires."""

from __future__ import annotations

from typing import Literal

from protocols.quantities import PositiveCurrent, Voltage
from protocols.steps.base import ELECTRO_CRITERIA, Ended, StepContext, StepType
from protocols.steps.commands import Plan, Source, StopAcquisition, WaitEnd


class Potentiostatic(Ended):
    """Constant voltage V(WE) − V(CE) with a current compliance."""

    type: Literal["potentiostatic"]
    voltage: Voltage
    current_limit: PositiveCurrent | None = None


def execute(step: Potentiostatic, ctx: StepContext) -> Plan:
    limit = step.current_limit if step.current_limit is not None else ctx.limits.current
    yield Source("voltage", step.voltage, limit)
    fired = yield WaitEnd()
    yield StopAcquisition()
    return fired


def check(step: Potentiostatic, limits) -> list[str]:
    if step.current_limit is None and limits.current is None:
        return ["needs a current_limit (compliance) or limits.current"]
    return []


STEP = StepType(Potentiostatic, "potentiostat", execute,
                ELECTRO_CRITERIA | {"current_above", "current_below"}, check)  # fmt: skip
