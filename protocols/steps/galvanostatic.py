"""``galvanostatic``: a constant current (or current density) until an end condition fires."""

from __future__ import annotations

from typing import Literal

from protocols.steps.base import (
    ELECTRO_CRITERIA,
    CurrentSource,
    Ended,
    StepContext,
    StepType,
    compliance_voltage,
    needs_voltage_compliance,
    resolve_current,
)
from protocols.steps.commands import Plan, Source, StopAcquisition, WaitEnd


class Galvanostatic(CurrentSource, Ended):
    """Constant current (I > 0 strips the working electrode, I < 0 plates it)."""

    type: Literal["galvanostatic"]


def execute(step: Galvanostatic, ctx: StepContext) -> Plan:
    current = yield from resolve_current(step, ctx)
    yield Source("current", current, compliance_voltage(step, ctx.limits))
    fired = yield WaitEnd()
    yield StopAcquisition()
    return fired


STEP = StepType(
    Galvanostatic, "potentiostat", execute, ELECTRO_CRITERIA, check=needs_voltage_compliance
)
