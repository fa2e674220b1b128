"""Resume a run from its file: where each track stood after its last completed step.

The engine logs every ``step_end`` with the track's program state (next pc, loop and goto
counters, cycle). Resuming reads the last such state per track, the signals already sent,
the next step number, the next segment, the time already on the file's clock and the stack
pressure and temperature the run held (restored before any step continues).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from daq.documents import EventKind
from daq.runfile import RunReader
from protocols.errors import Issue, ProtocolError
from protocols.model import Protocol


@dataclass
class ResumePoint:
    """Everything the engine needs to continue a run in a new segment of the same file."""

    protocol: Protocol
    source_text: str
    states: dict[str, dict[str, Any]]
    signals: dict[str, float] = field(default_factory=dict)
    first_step: int = 0
    segment: int = 1
    time_offset: float = 0.0
    previous_status: str = ""
    setpoints: dict[str, float] = field(default_factory=dict)


#: stream holding each held setpoint the engine restores before continuing a run
SETPOINT_STREAMS = {"pressure": "pressure", "temperature": "thermal"}


def held_setpoints(reader: RunReader) -> dict[str, float]:
    """The last commanded stack pressure and temperature (SI) recorded in the run, if any."""
    held: dict[str, float] = {}
    for what, stream in SETPOINT_STREAMS.items():
        if stream not in reader.stream_names:
            continue
        n = reader.stream_length(stream)
        if n:
            value = float(reader.stream(stream, n - 1, n)["setpoint"].iloc[0])
            if value == value:  # NaN: nothing was commanded
                held[what] = value
    return held


def resume_point(reader: RunReader) -> ResumePoint:
    """Read the resume point of the run open in ``reader``."""
    stored = reader.protocol
    if not stored["normalized_json"]:
        raise ProtocolError(
            [Issue((), "the run file holds no protocol to resume")], str(reader.path)
        )
    protocol = Protocol.from_normalized(stored["normalized_json"])
    events: pd.DataFrame = reader.events()
    states: dict[str, dict[str, Any]] = {}
    signals: dict[str, float] = {}
    segments = 0
    for row in events.itertuples(index=False):
        data = row.data
        if row.kind == EventKind.STEP_END and "track" in data and "state" in data:
            states[data["track"]] = data["state"]
        elif row.kind == EventKind.SIGNAL and "name" in data:
            signals[data["name"]] = float(row.time)
        elif row.kind == EventKind.SEGMENT_START:
            segments += 1
    last_time = float(events["time"].max()) if len(events) else 0.0
    for name in reader.stream_names:
        n = reader.stream_length(name)
        if n:
            last_time = max(last_time, float(reader.stream(name, n - 1, n)["time"].iloc[0]))
    steps = events["step"].max() if len(events) else -1
    return ResumePoint(
        protocol=protocol,
        source_text=stored["source"],
        states=states,
        signals=signals,
        first_step=int(steps) + 1,
        segment=max(segments, 1),
        time_offset=last_time,
        previous_status=reader.status,
        setpoints=held_setpoints(reader),
    )
