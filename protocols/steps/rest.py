"""``rest``: open circuit — zero current, voltage measured — until an end condition fires."""

from __future__ import annotations

from typing import Literal

from protocols.steps.base import ELECTRO_CRITERIA, Ended, StepContext, StepType
from protocols.steps.commands import Plan, Source, StopAcquisition, WaitEnd


class Rest(Ended):
    """Open circuit: zero current, voltage measured."""

    type: Literal["rest"]


def execute(step: Rest, ctx: StepContext) -> Plan:
    yield Source("open_circuit")
    fired = yield WaitEnd()
    yield StopAcquisition()
    return fired


STEP = StepType(Rest, "potentiostat", execute, ELECTRO_CRITERIA - {"charge", "capacity"})
