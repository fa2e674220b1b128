"""What every step shares: the strict base model, end conditions and record rules (SI inside).

Each step type lives in its own module of this package (see :mod:`protocols.steps.registry`).
End conditions are a list, the first to fire ends the step with its action: ``next``
(default), ``stop``, ``end_cycle`` (skip to the end of the innermost loop iteration) or
``goto`` a label.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from protocols.quantities import (
    ArealCapacity,
    Charge,
    CRate,
    Current,
    CurrentDensity,
    Duration,
    Name,
    PositiveCurrent,
    PositiveCurrentDensity,
    PositiveVoltage,
    Pressure,
    Time,
    Voltage,
    VoltageRate,
)
from protocols.steps.commands import Emit, Plan

if TYPE_CHECKING:
    from protocols.model import Limits

Action = Literal["next", "stop", "end_cycle"]
#: "short" is a hard short (detector kind "hard_short"); "compliance" is the source's own flag.
DetectorEvent = Literal["void_onset", "short", "soft_short", "compliance"]


class Strict(BaseModel):
    """Base for every protocol model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


#: End-condition criterion -> what it compares (used by the engine and validators).
CRITERIA: dict[str, str] = {
    "time": "elapsed step time >= value",
    "charge": "|charge passed in the step| >= value",
    "capacity": "|areal capacity passed in the step| >= value",
    "voltage_above": "V > value",
    "voltage_below": "V < value",
    "abs_voltage_above": "|V| > value",
    "abs_voltage_below": "|V| < value",
    "dvdt_above": "|dV/dt| > value",
    "dvdt_below": "|dV/dt| < value",
    "current_above": "|I| > value",
    "current_below": "|I| < value",
    "current_density_above": "|I| / sample area > value",
    "current_density_below": "|I| / sample area < value",
    "pressure_above": "P > value",
    "pressure_below": "P < value",
    "event": "a live detector reports the event",
}


class EndCondition(Strict):
    """One criterion (exactly one of the fields in CRITERIA) and what to do when it fires."""

    time: Duration | None = None
    charge: Charge | None = None
    capacity: ArealCapacity | None = None
    voltage_above: Voltage | None = None
    voltage_below: Voltage | None = None
    abs_voltage_above: PositiveVoltage | None = None
    abs_voltage_below: PositiveVoltage | None = None
    dvdt_above: VoltageRate | None = None
    dvdt_below: VoltageRate | None = None
    current_above: PositiveCurrent | None = None
    current_below: PositiveCurrent | None = None
    current_density_above: PositiveCurrentDensity | None = None
    current_density_below: PositiveCurrentDensity | None = None
    pressure_above: Pressure | None = None
    pressure_below: Pressure | None = None
    event: DetectorEvent | None = None
    min_confidence: float | None = Field(
        None, ge=0.0, le=1.0, description="with event: fire only on a call at least this confident"
    )
    after: Time | None = Field(None, description="arm the condition only after this step time")
    action: Action | None = None
    goto: str | None = None
    result: str | None = Field(None, description="outcome name recorded when this fires")

    @model_validator(mode="after")
    def _one_criterion(self) -> EndCondition:
        given = [name for name in CRITERIA if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one criterion of {', '.join(CRITERIA)}"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.action is not None and self.goto is not None:
            raise ValueError("give either 'action' or 'goto', not both")
        if self.min_confidence is not None and (self.event is None or self.event == "compliance"):
            raise ValueError("'min_confidence' goes only with a detector 'event'")
        return self

    @property
    def criterion(self) -> str:
        return next(name for name in CRITERIA if getattr(self, name) is not None)

    @property
    def value(self) -> float | str:
        return getattr(self, self.criterion)


class RecordRule(Strict):
    """Record a sample when any of these has changed since the last recorded one (none: all)."""

    every: Duration | None = None
    dv: PositiveVoltage | None = None
    di: PositiveCurrent | None = None

    @property
    def records_everything(self) -> bool:
        return self.every is None and self.dv is None and self.di is None


class StepBase(Strict):
    """Fields every step may carry: a goto label, a record rule and free metadata."""

    label: Name | None = None
    record: RecordRule | None = None
    meta: dict[str, str | int | float] = Field(default_factory=dict)


class Ending(StepBase):
    """A step that may end early on one of its end conditions (a sweep also ends by itself)."""

    end: list[EndCondition] = Field(default_factory=list)


class Ended(Ending):
    """A step that runs until one of its end conditions fires."""

    end: list[EndCondition] = Field(min_length=1)


class CurrentSource(StepBase):
    """Fields of a step that sources a fixed current (or current density × sample area)."""

    current: Current | None = None
    current_density: CurrentDensity | None = None
    c_rate: CRate | None = Field(None, description="'0.1 C' of the sample's nominal capacity")
    voltage_limit: PositiveVoltage | None = Field(None, description="compliance; default limits")

    @model_validator(mode="after")
    def _one_current(self):
        given = [self.current, self.current_density, self.c_rate]
        if sum(v is not None for v in given) != 1:
            raise ValueError("give exactly one of 'current' or 'current_density' (or 'c_rate')")
        return self

    def source_current(self, area: float | None, capacity: float | None = None) -> float | None:
        """The current in A (None: a density without a sample area, a C-rate without capacity)."""
        if self.current is not None:
            return self.current
        if self.c_rate is not None:
            return None if capacity is None else self.c_rate * capacity / 3600.0
        return None if area is None else self.current_density * area


def resolve_current(step: CurrentSource, ctx: StepContext) -> Plan:
    """The step's current in A; a C-rate is converted here and logged with its basis."""
    capacity, basis = ctx.capacity if ctx.capacity is not None else (None, "")
    current = step.source_current(ctx.area, capacity)
    if step.c_rate is not None and current is not None:
        text = (f"{ctx.name}: {step.c_rate:g} C = {current * 1e3:.6g} mA of "
                f"{capacity / 3.6:.6g} mAh ({basis})")  # fmt: skip
        yield Emit("c_rate", text, {"c_rate": step.c_rate, "current_A": current,
                                    "capacity_C": capacity, "basis": basis})  # fmt: skip
    return current


#: criteria on the measured current (a potential-controlled step may end on them)
CURRENT_CRITERIA = frozenset({"current_above", "current_below", "current_density_above",
                              "current_density_below"})  # fmt: skip
#: criteria an electrochemical source step may end on (each step type narrows or widens this)
ELECTRO_CRITERIA = frozenset({"time", "charge", "capacity", "voltage_above", "voltage_below",
                              "abs_voltage_above", "abs_voltage_below", "dvdt_above", "dvdt_below",
                              "pressure_above", "pressure_below", "event"})  # fmt: skip


def compliance_voltage(step: CurrentSource, limits) -> float:
    """The step's voltage compliance, or the largest |voltage| the run's limits allow."""
    if step.voltage_limit is not None:
        return step.voltage_limit
    rng = limits.voltage
    return max(abs(x) for x in (rng.min, rng.max) if x is not None)


def needs_voltage_compliance(step: CurrentSource, limits) -> list[str]:
    """A current source needs a compliance: its own or one from limits.voltage."""
    if step.voltage_limit is None and limits.voltage is None:
        return ["needs a voltage_limit (compliance) or limits.voltage"]
    return []


@dataclass(frozen=True)
class StepContext:
    """What an executor may know besides its step: where it is (for messages), the sample
    area (m², for current densities) and the run's safety limits (for default compliances)."""

    name: str
    area: float | None
    limits: Limits
    capacity: tuple[float, str] | None = None  # nominal capacity (C) and its basis, C-rates


@dataclass(frozen=True)
class StepType:
    """One step type: schema, role, allowed end criteria, executor, extra checks.

    ``execute(step, ctx)`` returns the step's plan; ``None`` marks a control instruction the
    compiler resolves (``goto``). ``check(step, limits)`` returns problems pydantic cannot see.
    ``technique(step)`` names the sweep technique the step needs of its potentiostat (``eis``,
    ``geis``, ``lsv``, ``cv``; see drivers.roles.SWEEP_TECHNIQUES), None for none. ``renamed``
    maps a field's former spelling to its present one (an error then names both).
    """

    model: type[StepBase]
    role: str | None
    execute: Callable[[Any, StepContext], Plan] | None
    criteria: frozenset[str] = frozenset()
    check: Callable[[Any, Limits], list[str]] | None = None
    technique: Callable[[Any], str | None] | None = None
    renamed: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.model.model_fields["type"].annotation.__args__[0]
