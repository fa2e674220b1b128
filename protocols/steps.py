"""Primitive protocol steps, their end conditions and record rules (validated, SI inside).

Each step names its ``type``; the engine dispatches on it. End conditions are a list, the first
to fire ends the step with its action: ``next`` (default), ``stop``, ``end_cycle`` (skip to the
end of the innermost loop iteration) or ``goto`` a label.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from protocols.quantities import (
    ArealCapacity,
    Charge,
    Current,
    CurrentDensity,
    Duration,
    Length,
    PositiveCurrent,
    PositiveVoltage,
    Pressure,
    PressureRate,
    Temperature,
    Time,
    Voltage,
    VoltageRate,
)

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
    pressure_above: Pressure | None = None
    pressure_below: Pressure | None = None
    event: DetectorEvent | None = None
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

    label: str | None = None
    record: RecordRule | None = None
    meta: dict[str, str | int | float] = Field(default_factory=dict)


class Ended(StepBase):
    """A step that runs until one of its end conditions fires."""

    end: list[EndCondition] = Field(min_length=1)


class Rest(Ended):
    """Open circuit: zero current, voltage measured."""

    type: Literal["rest"]


class _CurrentSource(StepBase):
    current: Current | None = None
    current_density: CurrentDensity | None = None
    voltage_limit: PositiveVoltage | None = Field(None, description="compliance; default limits")

    @model_validator(mode="after")
    def _one_current(self):
        if (self.current is None) == (self.current_density is None):
            raise ValueError("give exactly one of 'current' or 'current_density'")
        return self


class Galvanostatic(_CurrentSource, Ended):
    """Constant current (I > 0 strips the working electrode, I < 0 plates it)."""

    type: Literal["galvanostatic"]


class Potentiostatic(Ended):
    """Constant voltage V(WE) − V(CE) with a current compliance."""

    type: Literal["potentiostatic"]
    voltage: Voltage
    current_limit: PositiveCurrent | None = None


class CurrentInterrupt(_CurrentSource):
    """Source a current for ``on_time``, then open the circuit for ``off_time``; logs R parts.

    The instantaneous voltage jump at the interrupt is the ohmic (bulk) part; the remaining
    relaxation over ``off_time`` is the interfacial part.
    """

    type: Literal["current_interrupt"]
    on_time: Duration
    off_time: Duration


class Goto(StepBase):
    """Jump to ``target``; with ``times`` it jumps that many times, then falls through."""

    type: Literal["goto"]
    target: str
    times: int | None = Field(None, ge=1)


class Signal(StepBase):
    """Emit a named event that steps on other tracks can wait for."""

    type: Literal["signal"]
    name: str


class SetPressure(StepBase):
    """Drive the stack pressure to ``pressure`` (at ``rate``); by default wait until settled."""

    type: Literal["set_pressure"]
    pressure: Pressure
    rate: PressureRate | None = None
    wait: bool = True
    timeout: Duration | None = None


class PressureRamp(StepBase):
    """Ramp the stack pressure to ``to`` at ``rate`` or over ``duration``, ending when settled."""

    type: Literal["pressure_ramp"]
    to: Pressure
    rate: PressureRate | None = None
    duration: Duration | None = None
    timeout: Duration | None = None

    @model_validator(mode="after")
    def _rate_or_duration(self) -> PressureRamp:
        if (self.rate is None) == (self.duration is None):
            raise ValueError("give exactly one of 'rate' or 'duration'")
        return self


class PressureHold(Ended):
    """Hold the stack pressure (at ``pressure`` or the present setpoint) until an end fires."""

    type: Literal["pressure_hold"]
    pressure: Pressure | None = None


class SetTemperature(StepBase):
    """Set the cell temperature; by default wait until the controller reports it stable."""

    type: Literal["set_temperature"]
    temperature: Temperature
    wait: bool = True
    timeout: Duration | None = None


class Approach(StepBase):
    """TEM/STM holder: ``coarse_steps`` stick-slip steps toward the sample, then fine steps
    of ``step`` under ``probe_bias`` until the current reaches ``threshold_current``."""

    type: Literal["approach"]
    threshold_current: PositiveCurrent
    probe_bias: Voltage
    step: Length
    max_travel: Length
    coarse_steps: int = Field(0, ge=0)
    on_no_contact: Literal["stop", "next"] = "stop"


class BiasHold(Ended):
    """TEM/STM holder: hold a bias ``voltage`` with compliance ``current_limit``."""

    type: Literal["bias_hold"]
    voltage: Voltage
    current_limit: PositiveCurrent


class BiasPulseTrain(StepBase):
    """TEM/STM holder: ``count`` pulses of ``high`` for ``high_time`` then ``low`` for ``low_time``."""

    type: Literal["bias_pulse_train"]
    high: Voltage
    low: Voltage
    high_time: Duration
    low_time: Duration
    count: int = Field(ge=1)
    current_limit: PositiveCurrent


class FrameCapture(StepBase):
    """Start (``enabled: true``) or stop frame capture from the imaging source."""

    type: Literal["frame_capture"]
    enabled: bool


class Wait(StepBase):
    """Wait until the pressure settles, the temperature is stable, or another track signals."""

    type: Literal["wait"]
    until: Literal["pressure_settled", "temperature_stable", "event"]
    event: str | None = None
    timeout: Duration | None = None
    on_timeout: Literal["stop", "next"] = "stop"

    @model_validator(mode="after")
    def _event_named(self) -> Wait:
        if (self.until == "event") != (self.event is not None):
            raise ValueError("'event' is required with until: event, and only then")
        return self


PRIMITIVE_STEPS = (
    Rest,
    Galvanostatic,
    Potentiostatic,
    CurrentInterrupt,
    Goto,
    Signal,
    SetPressure,
    PressureRamp,
    PressureHold,
    SetTemperature,
    Approach,
    BiasHold,
    BiasPulseTrain,
    FrameCapture,
    Wait,
)

#: Instrument role each primitive step commands (wait/goto/signal/rest-free steps: none).
STEP_ROLE: dict[str, str | None] = {
    "rest": "potentiostat",
    "galvanostatic": "potentiostat",
    "potentiostatic": "potentiostat",
    "current_interrupt": "potentiostat",
    "goto": None,
    "signal": None,
    "set_pressure": "pressure_rig",
    "pressure_ramp": "pressure_rig",
    "pressure_hold": "pressure_rig",
    "set_temperature": "thermal",
    "approach": "bias_holder",
    "bias_hold": "bias_holder",
    "bias_pulse_train": "bias_holder",
    "frame_capture": "frame_source",
    "wait": None,
}

#: Criteria that make sense for each ended step type (others are reported as errors).
_ELECTRO = {"time", "charge", "capacity", "voltage_above", "voltage_below", "abs_voltage_above",
            "abs_voltage_below", "dvdt_above", "dvdt_below", "pressure_above", "pressure_below",
            "event"}  # fmt: skip
ALLOWED_CRITERIA: dict[str, set[str]] = {
    "rest": _ELECTRO - {"charge", "capacity"},
    "galvanostatic": _ELECTRO,
    "potentiostatic": _ELECTRO | {"current_above", "current_below"},
    "pressure_hold": {"time", "pressure_above", "pressure_below", "event"},
    "bias_hold": {"time", "charge", "current_above", "current_below", "event"},
}
