"""``cccv``: constant current to ``voltage``, then constant voltage there until the current tapers.

CC phase: the current (or C-rate) until V crosses ``voltage`` in the current's direction (rises
to it on charge, I > 0; falls to it on discharge, I < 0), judged at the crossing sample. CV
phase: the source holds ``voltage`` with |I| limited to the CC current, and the step ends when
|I| falls below ``taper_current`` or ``taper_c_rate`` × the capacity basis ("C/20", converted
at run start and logged with its basis). The step's own ``end`` conditions (a time guard, say)
are watched through both phases; ``cc_end`` ones only through the CC phase (a runaway-charge
guard: a CC phase that never reaches ``voltage``, while a long CV phase is normal at high rates).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from protocols.quantities import SI_CONTEXT, CRate, PositiveCurrent, Voltage
from protocols.steps.base import (
    ELECTRO_CRITERIA,
    CurrentSource,
    EndCondition,
    Ended,
    StepContext,
    StepType,
    compliance_voltage,
    needs_voltage_compliance,
    resolve_current,
)
from protocols.steps.commands import Emit, EndRun, Plan, Source, StopAcquisition, WaitEnd


class Cccv(CurrentSource, Ended):
    """CC to ``voltage`` (charge or discharge), then CV there until |I| < the taper."""

    type: Literal["cccv"]
    voltage: Voltage
    taper_current: PositiveCurrent | None = None
    taper_c_rate: CRate | None = Field(None, gt=0, description="e.g. 'C/20' of the basis")
    end: list[EndCondition] = Field(default_factory=list)
    cc_end: list[EndCondition] = Field(
        default_factory=list, description="end conditions of the CC phase only (a time guard)"
    )

    @model_validator(mode="after")
    def _one_taper(self):
        if (self.taper_current is None) == (self.taper_c_rate is None):
            raise ValueError("give exactly one of 'taper_current' or 'taper_c_rate'")
        return self

    @property
    def direction(self) -> int:
        """+1 for a charge (the CC phase rises to ``voltage``), -1 for a discharge."""
        rate = self.current if self.current is not None else self.c_rate
        return 1 if (rate if rate is not None else self.current_density) > 0 else -1


def taper(step: Cccv, ctx: StepContext) -> Plan:
    """The taper current in A; a C-rate is converted here with the capacity basis and logged."""
    if step.taper_current is not None:
        return step.taper_current
    capacity, basis = ctx.capacity if ctx.capacity is not None else (None, "")
    if capacity is None:
        yield EndRun("failed", f"{ctx.name}: a taper C-rate needs the sample's capacity basis")
    current = step.taper_c_rate * capacity / 3600.0
    yield Emit("c_rate", f"{ctx.name}: taper {step.taper_c_rate:g} C = {current * 1e3:.6g} mA of "
               f"{capacity / 3.6:.6g} mAh ({basis})", {"c_rate": step.taper_c_rate,
               "current_A": current, "capacity_C": capacity, "basis": basis})  # fmt: skip
    return current


def execute(step: Cccv, ctx: StepContext) -> Plan:
    current = yield from resolve_current(step, ctx)
    until = yield from taper(step, ctx)
    crossing = "voltage_above" if step.direction > 0 else "voltage_below"
    # no ``result`` on these two: reaching the cut-off and tapering are the normal course of the
    # step, not outcomes of the run (an outcome also marks its cycle as cut short in analysis)
    cutoff = EndCondition.model_validate({crossing: step.voltage}, context=SI_CONTEXT)
    yield Source("current", current, compliance_voltage(step, ctx.limits))
    fired = yield WaitEnd((cutoff, *step.cc_end))
    if fired is not None and fired.condition is cutoff:
        tapered = EndCondition.model_validate({"current_below": until}, context=SI_CONTEXT)
        yield Source("voltage", step.voltage, abs(current))
        fired = yield WaitEnd((tapered,))
    yield StopAcquisition()
    return fired


def check(step: Cccv, limits) -> list[str]:
    wrong = [
        f"cc_end[{k}]: {cond.criterion!r} cannot end the CC phase (possible: "
        f"{', '.join(sorted(ELECTRO_CRITERIA))})"
        for k, cond in enumerate(step.cc_end)
        if cond.criterion not in ELECTRO_CRITERIA or cond.action == "end_cycle"
    ]
    return wrong + needs_voltage_compliance(step, limits)


STEP = StepType(Cccv, "potentiostat", execute, ELECTRO_CRITERIA | {"current_below"}, check)
