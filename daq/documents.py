"""Typed run documents: the event kinds a run logs and the descriptor of each data stream.

A foundation module (imports nothing else of the project), so the engine that produces these
documents, the run file that stores them and the GUI and analysis that read them share one
definition. ``EventKind`` values are the strings stored in the run file; a ``StreamDescriptor``
is what the engine publishes at run start for every stream it will produce (as Bluesky's
descriptor documents do), and what the run file keeps on each stream group.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    """Every kind of event a run logs (the value is what the run file stores)."""

    SEGMENT_START = "segment_start"  # a run (or a resumed segment of it) begins
    RESTORE = "restore"  # resume drives pressure/temperature back before continuing
    STEP_START = "step_start"
    STEP_END = "step_end"  # carries the track's program state (resume reads it)
    TRACK_END = "track_end"
    DECISION = "decision"  # an end condition's action (goto, next, stop) taken
    OUTCOME = "outcome"  # a protocol result such as a CCD failure mode
    SIGNAL = "signal"  # one track signals others
    CURRENT_INTERRUPT = "current_interrupt"  # R_ohmic / R_interfacial from an interrupt step
    C_RATE = "c_rate"  # a C-rate step's current, worked out from the cell's capacity
    EIS = "eis"  # an impedance sweep's summary (points, complete, DC level, amplitude)
    SWEEP = "sweep"  # an LSV / CV with its scan parameters
    APPROACH = "approach"  # a TEM/STM approach found (or missed) contact
    TIMEOUT = "timeout"  # a wait gave up
    RETRY = "retry"  # an instrument call failed and is retried
    FAULT = "fault"  # an instrument kept failing: it ends the run as ``failed``
    DETECTOR = "detector"  # a live detector fired (void onset, soft/hard short)
    LIMIT_TRIP = "limit_trip"  # the safety supervisor tripped
    PAUSE_REQUESTED = "pause_requested"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    ABORT = "abort"
    SAFE_STATE_FAILED = "safe_state_failed"
    RUN_END = "run_end"  # last event of every segment; data: status

    @classmethod
    def parse(cls, kind: str, where: str = "event") -> EventKind:
        """``kind`` as an EventKind; an unknown kind is a ValueError naming it and ``where``."""
        try:
            return cls(kind)
        except ValueError:
            known = ", ".join(k.value for k in cls)
            raise ValueError(f"{where}: unknown event kind {kind!r} (known: {known})") from None


#: integer-valued index fields of a stream (stored as int64, unitless)
INDEX_FIELDS = frozenset({"step", "cycle", "segment", "sweep"})
#: dtypes a stream field may have: SI floats, or integer indices (step, cycle, segment)
FIELD_DTYPES = ("f8", "i8")


@dataclass(frozen=True)
class FieldSpec:
    """One column of a stream: name, SI units ("" for indices) and storage dtype."""

    name: str
    units: str
    dtype: str = "f8"

    def __post_init__(self) -> None:
        if self.dtype not in FIELD_DTYPES:
            raise ValueError(f"field {self.name!r}: dtype {self.dtype!r} not one of {FIELD_DTYPES}")


@dataclass(frozen=True)
class StreamDescriptor:
    """What one stream holds and where it comes from: its fields (``time`` first), the station
    role that produces it and the instrument's name ("" when unknown, e.g. an imported file)."""

    name: str
    fields: tuple[FieldSpec, ...]
    role: str = ""
    instrument: str = ""

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        if names[:1] != ["time"]:
            raise ValueError(f"stream {self.name!r}: the first field must be 'time', got {names}")
        if len(set(names)) != len(names):
            raise ValueError(f"stream {self.name!r}: duplicate field names {names}")

    @classmethod
    def build(
        cls, name: str, units: Mapping[str, str], role: str = "", instrument: str = ""
    ) -> StreamDescriptor:
        """A descriptor from ``{field: units}``: ``time`` (s) is put first, and the index
        fields (step, cycle, segment) are int64 and unitless."""
        specs = [FieldSpec("time", "s")]
        for field, unit in units.items():
            if field == "time":
                continue
            index = field in INDEX_FIELDS
            specs.append(FieldSpec(field, "" if index else unit, "i8" if index else "f8"))
        return cls(name, tuple(specs), role, instrument)

    @property
    def units(self) -> dict[str, str]:
        """``{field: units}`` in field order."""
        return {f.name: f.units for f in self.fields}

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "instrument": self.instrument,
            "fields": [[f.name, f.units, f.dtype] for f in self.fields],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StreamDescriptor:
        fields = tuple(FieldSpec(*spec) for spec in data["fields"])
        return cls(str(data["name"]), fields, str(data.get("role", "")),
                   str(data.get("instrument", "")))  # fmt: skip
