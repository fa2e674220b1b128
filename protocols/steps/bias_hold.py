"""``bias_hold``: TEM/STM holder — hold a bias until an end condition fires."""

from __future__ import annotations

from typing import Literal

from protocols.quantities import PositiveCurrent, Voltage
from protocols.steps.base import Ended, StepContext, StepType
from protocols.steps.commands import Plan, SetBias, WaitEnd


class BiasHold(Ended):
    """TEM/STM holder: hold a bias ``voltage`` with compliance ``current_limit``."""

    type: Literal["bias_hold"]
    voltage: Voltage
    current_limit: PositiveCurrent


def execute(step: BiasHold, ctx: StepContext) -> Plan:
    yield SetBias(step.voltage, step.current_limit)
    return (yield WaitEnd())


STEP = StepType(BiasHold, "bias_holder", execute,
                frozenset({"time", "charge", "current_above", "current_below", "event"}))  # fmt: skip
