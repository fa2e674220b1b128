"""The run-file side of a run: a listener that writes engine output through RunWriter.

The engine never writes files; this listener does (``critical``: if the file cannot be written
the run fails safe rather than running on unrecorded). It also builds the writer's metadata:
sample (SI keys such as ``area_m2``), station snapshot, protocol text, normalized JSON and hash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from daq.runfile import RunWriter
from protocols.engine import STREAM_ROLE, STREAMS, EngineEvent, Listener
from protocols.model import Protocol

_SAMPLE_KEYS = {"area": "area_m2", "thickness": "thickness_m", "temperature": "temperature_K"}


def sample_metadata(protocol: Protocol) -> dict[str, Any]:
    """The protocol's sample block with the run file's SI key names."""
    return {
        _SAMPLE_KEYS.get(k, k): v for k, v in protocol.sample.model_dump(exclude_none=True).items()
    }


def station_streams(station: Any) -> dict[str, dict[str, str]]:
    """The engine streams that this station's roles produce."""
    return {
        name: fields
        for name, fields in STREAMS.items()
        if getattr(station, STREAM_ROLE[name], None) is not None
    }


def open_writer(path: str | Path, protocol: Protocol, source_text: str, station: Any) -> RunWriter:
    """Create the run file for ``protocol`` on ``station``."""
    frames = getattr(station, "frame_source", None)
    snapshot = station.snapshot() if hasattr(station, "snapshot") else {}
    return RunWriter(
        path,
        station_streams(station),
        sample=sample_metadata(protocol),
        station=snapshot,
        protocol_text=source_text,
        protocol_json=protocol.normalized_json(),
        protocol_sha256=protocol.sha256(),
        frame_sources={frames.name: frames.frame_shape} if frames is not None else None,
        clock_anchor_utc=station.clock.utc_anchor,
    )


class RunFileRecorder(Listener):
    """Samples, events and frames into a RunWriter."""

    critical = True

    def __init__(self, writer: RunWriter) -> None:
        self.writer = writer

    def on_samples(self, stream: str, data: dict[str, np.ndarray]) -> None:
        self.writer.append(stream, data)

    def on_event(self, event: EngineEvent) -> None:
        self.writer.event(event.time, event.kind, event.message(), event.step)

    def on_frame(self, source: str, time: float, image: np.ndarray) -> None:
        self.writer.add_frame(source, time, np.asarray(image, dtype=np.uint16))
