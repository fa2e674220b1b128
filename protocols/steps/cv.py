"""``cv``: cyclic voltammetry begin -> vertex1 -> vertex2 -> begin, ``scans`` times.

Recorded in the ``electro`` stream as a time series (V applied, I measured); a ``sweep`` event
carries the scan parameters. Used for the electrolyte's stability window (Li|SE|stainless).
"""

from __future__ import annotations

from typing import Literal

from protocols.quantities import Duration, PositiveVoltage, Voltage, VoltageRate
from protocols.steps.base import StepBase, StepContext, StepType
from protocols.steps.commands import Plan, Voltammetry
from protocols.steps.lsv import duration_check, report


class Cv(StepBase):
    """Cyclic voltammetry (see the module docstring)."""

    type: Literal["cv"]
    begin: Voltage
    vertex1: Voltage
    vertex2: Voltage
    scan_rate: VoltageRate
    step: PositiveVoltage = 0.001
    scans: int = 1
    max_duration: Duration | None = None


def execute(step: Cv, ctx: StepContext) -> Plan:
    sweep = yield Voltammetry("cv", (step.begin, step.vertex1, step.vertex2), step.step,
                              step.scan_rate, step.scans, step.max_duration)  # fmt: skip
    yield from report(sweep, ctx, "cv", step)


STEP = StepType(Cv, "potentiostat", execute, check=duration_check)
