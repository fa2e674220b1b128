"""``constant_gap``: hold the platens' gap and record the pressure the cell makes (issue 14).

The rig stops regulating and holds its actuator where it is; electrodes that swell or shrink
(alloy anodes, Li plated on a 2D foil) change the stack pressure, which is recorded like any
pressure reading. A rise of more than ``max_rise`` above the pressure at the step's start trips
the rig (load released, run ends tripped).
"""

from __future__ import annotations

from typing import Literal

from protocols.quantities import Pressure
from protocols.steps.base import Ended, StepContext, StepType
from protocols.steps.commands import HoldGap, Plan, WaitEnd


class ConstantGap(Ended):
    """Hold the actuator position until an end fires; trip on a pressure rise > ``max_rise``."""

    type: Literal["constant_gap"]
    max_rise: Pressure | None = None


def execute(step: ConstantGap, ctx: StepContext) -> Plan:
    yield HoldGap(step.max_rise)
    return (yield WaitEnd())


STEP = StepType(ConstantGap, "pressure_rig", execute,
                frozenset({"time", "pressure_above", "pressure_below", "event"}))  # fmt: skip
