"""Parameterised templates: macro steps that expand into primitive steps and loops.

A template is written like any step (``type: ccd_ramp`` plus its parameters) in YAML or through
the builder, validated with units like any step, and expanded when the protocol is compiled.
Expansions are plain dicts in SI units, validated again as steps (``SI_CONTEXT``), so a
template can never produce a step the model would refuse. Each expanded step carries ``meta``
(``template``, ``phase``, ``level``, ``current_density`` ...) so analysis can find its parts.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from protocols.quantities import (
    ArealCapacity,
    Count,
    Duration,
    Frequency,
    Length,
    PositiveCurrent,
    PositiveCurrentDensity,
    PositiveVoltage,
    Pressure,
    PressureRate,
    Voltage,
)
from protocols.steps.base import StepBase, Strict

Spec = dict[str, Any]
MAX_LEVELS = 1000  # CCD ramp levels: more is a typo (an increment in the wrong unit)


def _end(criterion: str, value: Any, **extra: Any) -> Spec:
    return {criterion: value, **{k: v for k, v in extra.items() if v is not None}}


def _meta(template: str, **fields: Any) -> dict[str, Any]:
    return {"template": template, **{k: v for k, v in fields.items() if v is not None}}


class EisOptions(Strict):
    """The sweep a template inserts: the fields of an ``eis`` step with lab defaults
    (200 kHz -> 1 Hz, 8 points per decade, 10 mV around the open-circuit voltage)."""

    mode: Literal["potentiostatic", "galvanostatic"] = "potentiostatic"
    f_start: Frequency = 2e5
    f_end: Frequency = 1.0
    points_per_decade: float = Field(8.0, gt=0, le=100)
    amplitude: Voltage | None = None
    current_amplitude: PositiveCurrent | None = None
    rest: Duration | None = Field(None, description="open circuit before each sweep")
    max_duration: Duration | None = None

    def steps(self, meta: dict[str, Any]) -> list[Spec]:
        """[rest,] eis — expanded in SI."""
        eis: Spec = {"type": "eis", "mode": self.mode, "f_start": self.f_start, "f_end": self.f_end,
                     "points_per_decade": self.points_per_decade, "meta": {**meta, "phase": "eis"}}  # fmt: skip
        if self.mode == "galvanostatic":
            eis["current_amplitude"] = self.current_amplitude
        else:
            eis["amplitude"] = 0.01 if self.amplitude is None else self.amplitude
        if self.max_duration is not None:
            eis["max_duration"] = self.max_duration
        if self.rest is None:
            return [eis]
        return [{"type": "rest", "end": [_end("time", self.rest)], "meta": {**meta, "phase": "rest"}}, eis]  # fmt: skip


class _HalfCycles(StepBase):
    """Common to symmetric cycling templates: half-cycle length by time or areal capacity."""

    half_cycle_time: Duration | None = None
    half_cycle_capacity: ArealCapacity | None = None
    rest: Duration | None = None
    voltage_limit: PositiveVoltage | None = None

    @model_validator(mode="after")
    def _one_length(self):
        if (self.half_cycle_time is None) == (self.half_cycle_capacity is None):
            raise ValueError("give exactly one of 'half_cycle_time' or 'half_cycle_capacity'")
        return self

    def _half_end(self) -> Spec:
        if self.half_cycle_time is not None:
            return _end("time", self.half_cycle_time)
        return _end("capacity", self.half_cycle_capacity)

    def _rest(self, meta: dict[str, Any]) -> list[Spec]:
        if self.rest is None:
            return []
        return [{"type": "rest", "end": [_end("time", self.rest)], "meta": meta}]

    def _half(self, j: float, extra_ends: list[Spec], meta: dict[str, Any]) -> Spec:
        step: Spec = {
            "type": "galvanostatic",
            "current_density": j,
            "end": [self._half_end(), *extra_ends],
            "meta": meta,
        }
        if self.voltage_limit is not None:
            step["voltage_limit"] = self.voltage_limit
        return step

    def _cycle(self, j: float, first: str, extra_ends: list[Spec], meta: dict) -> list[Spec]:
        """One strip + plate (or plate + strip) pair of half cycles with optional rests."""
        order = ("strip", "plate") if first == "strip" else ("plate", "strip")
        steps: list[Spec] = []
        for phase in order:
            signed = j if phase == "strip" else -j
            steps.append(self._half(signed, extra_ends, {**meta, "phase": phase}))
            steps.extend(self._rest({**meta, "phase": "rest"}))
        return steps


class PlatingStripping(_HalfCycles):
    """Symmetric galvanostatic cycling: N cycles of strip/plate at ±J, optional rest, cutoff."""

    type: Literal["plating_stripping"]
    current_density: PositiveCurrentDensity
    cycles: Count
    first: Literal["strip", "plate"] = "strip"
    cutoff: PositiveVoltage | None = Field(None, description="|V| that stops the run")
    eis_every: int | None = Field(None, ge=1, description="an impedance sweep after every N cycles")
    eis: EisOptions = Field(default_factory=EisOptions)

    def expand(self, prefix: str) -> list[Spec]:
        ends = [] if self.cutoff is None else [
            _end("abs_voltage_above", self.cutoff, action="stop", result="polarization")
        ]  # fmt: skip
        meta = _meta("plating_stripping", current_density=self.current_density)
        body = self._cycle(self.current_density, self.first, ends, meta)
        if self.eis_every is None:
            return [{"type": "loop", "count": self.cycles, "steps": body, "meta": meta}]
        blocks, left = divmod(self.cycles, self.eis_every)
        every = {"type": "loop", "count": self.eis_every, "steps": body, "meta": meta}
        out = [{"type": "loop", "count": blocks, "steps": [every, *self.eis.steps(meta)], "meta": meta}] if blocks else []  # fmt: skip
        if left:
            out.append({"type": "loop", "count": left, "steps": body, "meta": meta})
        return out


class CCDRamp(_HalfCycles):
    """Critical-current-density ramp: J grows level by level until a short or polarization.

    Each level runs ``cycles_per_step`` strip/plate cycles at J. A short (detector event, or
    |V| collapsing below ``short_voltage``) or |V| above ``polarization_limit`` ends the ramp
    with outcome ``ccd_failure``; the failing step's ``meta.current_density`` is J_crit and
    the firing criterion is the failure mode.
    """

    type: Literal["ccd_ramp"]
    start: PositiveCurrentDensity
    increment: PositiveCurrentDensity | None = None
    factor: float | None = Field(None, gt=1.0)
    maximum: PositiveCurrentDensity
    cycles_per_step: Count = 1
    polarization_limit: PositiveVoltage | None = None
    short_voltage: PositiveVoltage | None = None
    short_after: Duration | None = Field(None, description="arm the short check after this")
    stop_on_short: bool = True
    first: Literal["strip", "plate"] = "strip"
    on_failure_goto: str | None = None
    stop_run_on_short: bool = Field(
        False, description="a short stops the run even where on_failure_goto moves on"
    )
    pressure: Pressure | None = Field(None, description="recorded in meta (for maps)")

    @model_validator(mode="after")
    def _one_progression(self) -> CCDRamp:
        if (self.increment is None) == (self.factor is None):
            raise ValueError("give exactly one of 'increment' (linear) or 'factor' (geometric)")
        if self.maximum < self.start:
            raise ValueError("'maximum' must not be below 'start'")
        if self.increment is not None:
            count = (self.maximum - self.start) / self.increment + 1
        else:
            count = math.log(self.maximum / self.start) / math.log(self.factor) + 1
        if count > MAX_LEVELS:
            raise ValueError(f"the ramp would have {count:.0f} levels (at most {MAX_LEVELS})")
        return self

    def levels(self) -> list[float]:
        """Current densities of the ramp, A/m², from start up to maximum inclusive."""
        out: list[float] = []
        j = self.start
        while j <= self.maximum * (1 + 1e-9):
            out.append(j)
            j = j + self.increment if self.increment is not None else j * self.factor
        return out

    def _failure_ends(self) -> list[Spec]:
        fail = {"result": "ccd_failure"}
        fail |= {"goto": self.on_failure_goto} if self.on_failure_goto else {"action": "stop"}
        ends: list[Spec] = []
        if self.polarization_limit is not None:
            ends.append(_end("abs_voltage_above", self.polarization_limit, **fail))
        if self.stop_on_short:
            short = {"result": "ccd_failure", "action": "stop"} if self.stop_run_on_short else fail
            ends.append(_end("event", "short", **short))
            if self.short_voltage is not None:
                ends.append(
                    _end("abs_voltage_below", self.short_voltage, after=self.short_after, **short)
                )
        return ends

    def expand(self, prefix: str) -> list[Spec]:
        steps: list[Spec] = []
        for level, j in enumerate(self.levels(), start=1):
            meta = _meta("ccd_ramp", level=level, current_density=j, pressure=self.pressure)
            body = self._cycle(j, self.first, self._failure_ends(), meta)
            steps.append(
                {"type": "loop", "count": self.cycles_per_step, "steps": body, "meta": meta}
            )
        return steps


class PressureSchedule(StepBase):
    """Stack-pressure schedule: each pressure in turn, settle, signal, hold for ``hold``.

    Emits ``{signal}_{i}`` (1-based) once pressure ``i`` has settled, so another track can
    ``wait`` for it; the pressure is then held for ``hold``.
    """

    type: Literal["pressure_schedule"]
    pressures: list[Pressure] = Field(min_length=1)
    hold: Duration
    rate: PressureRate | None = None
    signal: str = "pressure"
    settle_timeout: Duration | None = None
    eis_at_each_level: EisOptions | None = Field(
        None, description="an impedance sweep once each pressure has settled, before its hold"
    )

    def expand(self, prefix: str) -> list[Spec]:
        steps: list[Spec] = []
        for i, p in enumerate(self.pressures, start=1):
            meta = _meta("pressure_schedule", index=i, pressure=p)
            set_p: Spec = {"type": "set_pressure", "pressure": p, "meta": meta}
            if self.rate is not None:
                set_p["rate"] = self.rate
            if self.settle_timeout is not None:
                set_p["timeout"] = self.settle_timeout
            steps += [
                set_p,
                {"type": "signal", "name": f"{self.signal}_{i}", "meta": meta},
                *(self.eis_at_each_level.steps(meta) if self.eis_at_each_level else []),
                {"type": "pressure_hold", "end": [_end("time", self.hold)], "meta": meta},
            ]
        return steps


class CCDPressureMap(StepBase):
    """CCD ramp at each of several stack pressures on one cell: a polarization failure (voids,
    which a higher pressure may close) moves on to the next pressure; a short stops the map,
    since a welded filament stays and every later ramp would only measure the short."""

    type: Literal["ccd_pressure_map"]
    pressures: list[Pressure] = Field(min_length=1)
    ccd: CCDRamp = Field(description="ccd_ramp parameters (same keys as a ccd_ramp step)")
    settle_timeout: Duration | None = None

    @field_validator("ccd", mode="before")
    @classmethod
    def _ccd_type(cls, value: Any) -> Any:
        return {"type": "ccd_ramp", **value} if isinstance(value, dict) else value

    def expand(self, prefix: str) -> list[Spec]:
        steps: list[Spec] = []
        for i, p in enumerate(self.pressures, start=1):
            after = f"{prefix}map_{i}_done"
            set_p: Spec = {
                "type": "set_pressure",
                "pressure": p,
                "meta": _meta("ccd_pressure_map", pressure=p),
            }
            if self.settle_timeout is not None:
                set_p["timeout"] = self.settle_timeout
            ramp = self.ccd.model_dump(exclude_none=True) | {
                "on_failure_goto": after,
                "stop_run_on_short": True,
                "pressure": p,
            }
            steps += [set_p, ramp, {"type": "signal", "name": after, "label": after}]
        return steps


class CECutoff(StepBase):
    """Coulombic efficiency on Li | SE | Cu: plate a fixed capacity, strip to a voltage cutoff."""

    type: Literal["ce_cutoff"]
    current_density: PositiveCurrentDensity
    plate_capacity: ArealCapacity
    cutoff: PositiveVoltage
    cycles: Count
    rest: Duration | None = None
    voltage_limit: PositiveVoltage | None = None

    def _plate(self, capacity: float, meta: dict) -> Spec:
        return _galv(-self.current_density, [_end("capacity", capacity)], self.voltage_limit, meta)

    def _strip_to_cutoff(self, meta: dict) -> Spec:
        return _galv(
            self.current_density, [_end("voltage_above", self.cutoff)], self.voltage_limit, meta
        )

    def _rest(self, meta: dict) -> list[Spec]:
        return (
            []
            if self.rest is None
            else [{"type": "rest", "end": [_end("time", self.rest)], "meta": meta}]
        )

    def expand(self, prefix: str) -> list[Spec]:
        meta = _meta("ce_cutoff", current_density=self.current_density)
        body = [
            self._plate(self.plate_capacity, {**meta, "phase": "plate"}),
            *self._rest({**meta, "phase": "rest"}),
            self._strip_to_cutoff({**meta, "phase": "strip"}),
            *self._rest({**meta, "phase": "rest"}),
        ]
        return [{"type": "loop", "count": self.cycles, "steps": body, "meta": meta}]


class CEReservoir(CECutoff):
    """Reservoir (Adams-type) CE on Li | SE | Cu.

    Formation (plate ``plate_capacity``, strip to cutoff), plate a reservoir Q_T, then
    ``cycles`` × (plate Q_C, strip Q_C), then strip everything to the cutoff (Q_S):
    CE_avg = (n·Q_C + Q_S) / (n·Q_C + Q_T). (physics-reviews.md §7, outside-seed note;
    parameters, not constants.)
    """

    type: Literal["ce_reservoir"]  # type: ignore[assignment]
    reservoir_capacity: ArealCapacity
    cycle_capacity: ArealCapacity

    @model_validator(mode="after")
    def _reservoir_covers_cycles(self) -> CEReservoir:
        if self.cycle_capacity >= self.reservoir_capacity:
            raise ValueError("'cycle_capacity' must be smaller than 'reservoir_capacity'")
        return self

    def expand(self, prefix: str) -> list[Spec]:
        meta = _meta(
            "ce_reservoir",
            current_density=self.current_density,
            reservoir_capacity=self.reservoir_capacity,
            cycle_capacity=self.cycle_capacity,
            cycles=self.cycles,
        )
        strip = _galv(
            self.current_density,
            [_end("capacity", self.cycle_capacity)],
            self.voltage_limit,
            {**meta, "phase": "cycle_strip"},
        )
        cycle = [self._plate(self.cycle_capacity, {**meta, "phase": "cycle_plate"}), strip]
        return [
            self._plate(self.plate_capacity, {**meta, "phase": "formation_plate"}),
            self._strip_to_cutoff({**meta, "phase": "formation_strip"}),
            *self._rest({**meta, "phase": "rest"}),
            self._plate(self.reservoir_capacity, {**meta, "phase": "reservoir_plate"}),
            {"type": "loop", "count": self.cycles, "steps": cycle, "meta": meta},
            self._strip_to_cutoff({**meta, "phase": "final_strip"}),
        ]


def _galv(j: float, ends: list[Spec], voltage_limit: float | None, meta: dict) -> Spec:
    step: Spec = {"type": "galvanostatic", "current_density": j, "end": ends, "meta": meta}
    if voltage_limit is not None:
        step["voltage_limit"] = voltage_limit
    return step


class TEMSequence(StepBase):
    """In situ TEM nanobattery: approach until contact, frames on, N plate/strip bias cycles,
    optional overflow test at high bias under compliance, frames off.

    Defaults follow the MIEC-tubule experiment: −2 V to plate, +2 V to strip, 10 V overflow
    (physics-creep.md §1.1, §2.4).
    """

    type: Literal["tem_sequence"]
    threshold_current: PositiveCurrent
    probe_bias: Voltage
    approach_step: Length
    max_travel: Length
    coarse_steps: int = Field(0, ge=0)
    plate_bias: Voltage = -2.0
    strip_bias: Voltage = 2.0
    plate_time: Duration
    strip_time: Duration
    cycles: Count
    current_limit: PositiveCurrent
    overflow_bias: Voltage | None = None
    overflow_time: Duration | None = None
    overflow_current_limit: PositiveCurrent | None = None
    frames: bool = True

    @model_validator(mode="after")
    def _overflow_complete(self) -> TEMSequence:
        parts = (self.overflow_bias, self.overflow_time, self.overflow_current_limit)
        if any(p is not None for p in parts) and any(p is None for p in parts):
            raise ValueError(
                "an overflow test needs overflow_bias, overflow_time and overflow_current_limit"
            )
        return self

    def _hold(self, v: float, t: float, limit: float, phase: str) -> Spec:
        meta = _meta("tem_sequence", phase=phase, bias=v)
        return {"type": "bias_hold", "voltage": v, "current_limit": limit,
                "end": [_end("time", t)], "meta": meta}  # fmt: skip

    def expand(self, prefix: str) -> list[Spec]:
        steps: list[Spec] = [{
            "type": "approach", "threshold_current": self.threshold_current,
            "probe_bias": self.probe_bias, "step": self.approach_step,
            "max_travel": self.max_travel,
                "coarse_steps": self.coarse_steps, "meta": _meta("tem_sequence", phase="approach"),
        }]  # fmt: skip
        if self.frames:
            steps.append({"type": "frame_capture", "enabled": True})
        cycle = [
            self._hold(self.plate_bias, self.plate_time, self.current_limit, "plate"),
            self._hold(self.strip_bias, self.strip_time, self.current_limit, "strip"),
        ]
        steps.append({"type": "loop", "count": self.cycles, "steps": cycle,
                      "meta": _meta("tem_sequence")})  # fmt: skip
        if self.overflow_bias is not None:
            steps.append(
                self._hold(
                    self.overflow_bias, self.overflow_time, self.overflow_current_limit, "overflow"
                )
            )
        if self.frames:
            steps.append({"type": "frame_capture", "enabled": False})
        return steps


from protocols.cycling_templates import GalvanostaticCycling, RateTest  # noqa: E402

TEMPLATES = (
    PlatingStripping,
    CCDRamp,
    PressureSchedule,
    CCDPressureMap,
    CECutoff,
    CEReservoir,
    TEMSequence,
    GalvanostaticCycling,
    RateTest,
)
