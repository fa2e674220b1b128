"""``bias_pulse_train``: TEM/STM holder — ``count`` pulses of a high then a low bias."""

from __future__ import annotations

from typing import Literal

from protocols.quantities import Count, Duration, PositiveCurrent, Voltage
from protocols.steps.base import StepBase, StepContext, StepType
from protocols.steps.commands import Plan, SetBias, Sleep


class BiasPulseTrain(StepBase):
    """TEM/STM holder: ``count`` pulses of ``high`` for ``high_time`` then ``low`` for ``low_time``."""

    type: Literal["bias_pulse_train"]
    high: Voltage
    low: Voltage
    high_time: Duration
    low_time: Duration
    count: Count
    current_limit: PositiveCurrent


def execute(step: BiasPulseTrain, ctx: StepContext) -> Plan:
    for _ in range(step.count):
        for level, duration in ((step.high, step.high_time), (step.low, step.low_time)):
            yield SetBias(level, step.current_limit)
            yield Sleep(duration)


STEP = StepType(BiasPulseTrain, "bias_holder", execute)
