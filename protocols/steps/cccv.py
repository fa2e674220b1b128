"""``cccv``: constant current up to ``voltage``, then constant voltage there until it tapers.

The source's own voltage compliance is the CV phase: it sources the current (or C-rate) with
the compliance at |``voltage``|; once |V| reaches it the instrument holds it and the current
falls. The step ends when |I| falls below ``taper_current`` (a ``current_below`` end condition
added to ``end``), or on any other end condition given.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from protocols.quantities import SI_CONTEXT, PositiveCurrent, Voltage
from protocols.steps.base import (
    ELECTRO_CRITERIA,
    CurrentSource,
    EndCondition,
    Ended,
    StepContext,
    StepType,
    resolve_current,
)
from protocols.steps.commands import Plan, Source, StopAcquisition, WaitEnd


class Cccv(CurrentSource, Ended):
    """Charge at a current (or C-rate) to ``voltage``, hold it until |I| < ``taper_current``."""

    type: Literal["cccv"]
    voltage: Voltage
    taper_current: PositiveCurrent
    end: list[EndCondition] = Field(default_factory=list)

    @model_validator(mode="after")
    def _taper_ends_the_step(self):
        if self.voltage == 0:
            raise ValueError("voltage: the CV level must be non-zero")
        if not any(c.result == "taper" for c in self.end):
            taper = {"current_below": self.taper_current, "result": "taper"}
            self.end.append(EndCondition.model_validate(taper, context=SI_CONTEXT))
        return self


def execute(step: Cccv, ctx: StepContext) -> Plan:
    current = yield from resolve_current(step, ctx)
    yield Source("current", current, abs(step.voltage))
    fired = yield WaitEnd()
    yield StopAcquisition()
    return fired


def check(step: Cccv, limits) -> list[str]:
    rate = step.current if step.current is not None else step.c_rate
    if rate is not None and (rate > 0) != (step.voltage > 0):
        return [
            "cccv holds |V| at 'voltage' through the source's compliance: the current must drive "
            "V towards it (same sign, e.g. charge at +0.1 C to 3.85 V)"
        ]
    return []


STEP = StepType(Cccv, "potentiostat", execute, ELECTRO_CRITERIA | {"current_below"}, check)
