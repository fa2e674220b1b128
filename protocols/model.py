"""The protocol: sample, sampling, record rule, safety limits and one or more step tracks.

A protocol has either ``steps`` (one track called ``main``) or ``tracks`` (named step lists run
concurrently on one clock). Its normalized JSON (SI floats, sorted keys) and that text's
sha256 identify it in run files.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag, TypeAdapter, model_validator

from protocols.quantities import (
    SI_CONTEXT,
    Area,
    ArealCapacity,
    ArealMass,
    Charge,
    Count,
    Frequency,
    Length,
    Mass,
    Name,
    PositiveCurrent,
    PositiveCurrentDensity,
    PositiveVoltage,
    Pressure,
    SpecificCapacity,
    Temperature,
    Voltage,
)
from protocols.steps.base import RecordRule, StepBase, Strict
from protocols.steps.registry import PRIMITIVE_STEPS
from protocols.templates import TEMPLATES


class Loop(StepBase):
    """Repeat ``steps`` ``count`` times; an innermost loop's iterations count as cycles."""

    type: Literal["loop"]
    count: Count
    steps: list[Step] = Field(min_length=1)


STEP_CLASSES = {cls.model_fields["type"].annotation.__args__[0]: cls
                for cls in (*PRIMITIVE_STEPS, Loop, *TEMPLATES)}  # fmt: skip


def _step_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("type")
    return getattr(value, "type", None)


def _build_step_union():
    """Discriminated union of every step class by its ``type`` tag."""
    members = tuple(Annotated[cls, Tag(name)] for name, cls in STEP_CLASSES.items())
    return Annotated[Union[members], Discriminator(_step_tag)]  # noqa: UP007


Step = _build_step_union()
Loop.model_rebuild()
STEP_LIST = TypeAdapter(list[Step])


class Electrode(Strict):
    """One electrode by role: its active material and how much of it (the capacity basis)."""

    active_material: str | None = None
    mass_loading: ArealMass | None = None  # per area of the sample
    mass: Mass | None = None  # of active material, instead of a loading
    specific_capacity: SpecificCapacity | None = None

    @model_validator(mode="after")
    def _one_amount(self):
        if self.mass_loading is not None and self.mass is not None:
            raise ValueError("give 'mass_loading' or 'mass', not both")
        return self

    def capacity(self, area: float | None) -> float | None:
        """Nominal capacity in C (None when the mass or specific capacity is missing)."""
        mass = self.mass
        if mass is None and self.mass_loading is not None and area is not None:
            mass = self.mass_loading * area
        if mass is None or self.specific_capacity is None:
            return None
        return mass * self.specific_capacity


class Sample(Strict):
    """Sample metadata stored with the run; ``area`` converts current density to current,
    the electrodes (or ``nominal_capacity``) convert C-rates to current."""

    area: Area | None = None
    electrolyte: str | None = None
    electrodes: str | None = None
    thickness: Length | None = None
    temperature: Temperature | None = None
    pixel_size: Length | None = None  # in situ imaging: length of one image pixel
    inner_diameter: Length | None = None  # in situ TEM: tubule inner diameter
    notes: str | None = None
    anode: Electrode | None = None
    cathode: Electrode | None = None
    working: Electrode | None = None
    counter: Electrode | None = None
    nominal_capacity: Charge | None = None  # overrides the electrodes' capacity

    def capacity_basis(self) -> tuple[float, str] | None:
        """(nominal capacity in C, how it was obtained) for C-rates, or None."""
        if self.nominal_capacity is not None:
            return self.nominal_capacity, "sample.nominal_capacity"
        for role in ("cathode", "working"):
            electrode = getattr(self, role)
            capacity = None if electrode is None else electrode.capacity(self.area)
            if capacity is not None:
                amount = (
                    f"{electrode.mass * 1e6:g} mg" if electrode.mass is not None
                    else f"{electrode.mass_loading * 100:g} mg/cm2 x {self.area * 1e4:g} cm2"
                )  # fmt: skip
                return capacity, (
                    f"sample.{role}: {amount} {electrode.active_material or ''} x "
                    f"{electrode.specific_capacity / 3600:g} mAh/g"
                ).replace("  ", " ")
        return None


class Sampling(Strict):
    """Acquisition rates: potentiostat (buffered), pressure/thermal/bias polling."""

    rate: Frequency = 10.0
    slow_rate: Frequency = 2.0


class Range(Strict):
    """Lower and/or upper bound (SI floats; at least one)."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("give 'min', 'max' or both")
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError(f"'min' ({self.min:g}) must be below 'max' ({self.max:g})")
        return self


class VoltageRange(Range):
    min: Voltage | None = None
    max: Voltage | None = None


class PressureRange(Range):
    min: Pressure | None = None
    max: Pressure | None = None


class TemperatureRange(Range):
    min: Temperature | None = None
    max: Temperature | None = None


class Limits(Strict):
    """Global safety limits checked on every sample by the supervisor, whatever the step.

    ``debounce`` consecutive out-of-limit samples trip; on a trip the potentiostat output goes
    off, the bias goes to 0 V and the pressure is held or released per ``on_trip_pressure``.
    """

    voltage: VoltageRange | None = None
    current: PositiveCurrent | None = Field(None, description="max |I|")
    current_density: PositiveCurrentDensity | None = Field(None, description="max |J|")
    pressure: PressureRange | None = None
    temperature: TemperatureRange | None = None
    capacity: ArealCapacity | None = Field(None, description="max |areal capacity| per step")
    charge: Charge | None = Field(None, description="max |charge| per step")
    bias: PositiveVoltage | None = Field(None, description="max |bias|")
    debounce: int = Field(1, ge=1, description="consecutive samples beyond a limit to trip")
    on_trip_pressure: Literal["hold", "release"] = "hold"


class Protocol(Strict):
    """A validated protocol (SI floats inside); build with protocols.loader or the builder."""

    name: Name
    description: str = ""
    sample: Sample = Field(default_factory=Sample)
    sampling: Sampling = Field(default_factory=Sampling)
    record: RecordRule = Field(default_factory=RecordRule)
    limits: Limits = Field(default_factory=Limits)
    steps: list[Step] | None = None
    tracks: dict[str, list[Step]] | None = None

    @model_validator(mode="after")
    def _steps_or_tracks(self) -> Protocol:
        if (self.steps is None) == (self.tracks is None):
            raise ValueError("give either 'steps' (one track) or 'tracks' (several), not both")
        if self.tracks is not None and not self.tracks:
            raise ValueError("'tracks' is empty")
        return self

    def track_steps(self) -> dict[str, list[Any]]:
        """Track name -> its step list (a plain ``steps`` list is the track ``main``)."""
        return {"main": list(self.steps)} if self.steps is not None else dict(self.tracks)

    def normalized(self) -> dict[str, Any]:
        """JSON-ready dict in SI floats, defaults included, unset optionals dropped."""
        return self.model_dump(mode="json", exclude_none=True)

    def normalized_json(self) -> str:
        """Canonical text: sorted keys, no whitespace; what the hash is taken over."""
        return json.dumps(self.normalized(), sort_keys=True, separators=(",", ":"), allow_nan=False)

    def sha256(self) -> str:
        return hashlib.sha256(self.normalized_json().encode()).hexdigest()

    @classmethod
    def from_normalized(cls, text_or_dict: str | dict[str, Any]) -> Protocol:
        """Rebuild from normalized JSON (SI floats), e.g. the copy stored in a run file."""
        data = json.loads(text_or_dict) if isinstance(text_or_dict, str) else text_or_dict
        return cls.model_validate(data, context=SI_CONTEXT)


def validate_steps(specs: list[dict[str, Any]]) -> list[Any]:
    """Validate template expansions (SI floats) as steps."""
    return STEP_LIST.validate_python(specs, context=SI_CONTEXT)
