"""The run-file side of a run: a listener that writes engine output through RunWriter.

The engine never writes files; this listener does (``critical``: if the file cannot be written
the run fails safe rather than running on unrecorded). It also builds the writer's metadata:
sample (SI keys such as ``area_m2``), station snapshot, protocol text, normalized JSON and hash.
The file's streams are the ones the engine describes at run start (``on_start``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from daq.documents import StreamDescriptor
from daq.runfile import RunWriter, refuse_existing
from drivers.errors import InstrumentError
from protocols.engine import EngineEvent, Listener
from protocols.model import Protocol

#: key of the /station attributes holding the station file's content (not an instrument)
STATION_FILE_KEY = "station_file"
_SAMPLE_KEYS = {
    "area": "area_m2",
    "thickness": "thickness_m",
    "temperature": "temperature_K",
    "pixel_size": "pixel_size_m",
    "inner_diameter": "inner_diameter_m",
}


def sample_metadata(protocol: Protocol) -> dict[str, Any]:
    """The protocol's sample block with the run file's SI key names."""
    return {
        _SAMPLE_KEYS.get(k, k): v for k, v in protocol.sample.model_dump(exclude_none=True).items()
    }


def frame_shape(source: Any, clock: Any, timeout: float = 10.0) -> tuple[int, int] | None:
    """The frame source's image shape; a folder watcher learns it from its first frame, so
    capture briefly until one arrives (None if none arrives within ``timeout`` run seconds)."""
    try:
        return tuple(source.frame_shape)
    except InstrumentError:
        pass
    source.start()
    try:
        waited = 0.0
        while waited < timeout:
            if source.poll():
                return tuple(source.frame_shape)
            clock.sleep(0.5)
            waited += 0.5
    finally:
        source.stop()
    return None


def open_recorder(
    path: str | Path, protocol: Protocol, source_text: str, station: Any
) -> RunFileRecorder:
    """The recorder of a new run file for ``protocol`` on ``station``: it creates the file when
    the engine describes its streams at run start (frames are declared when their shape is
    known). An existing ``path`` is refused now, before anything runs."""
    path = Path(path)
    refuse_existing(path)
    frames = getattr(station, "frame_source", None)
    shape = frame_shape(frames, station.clock) if frames is not None else None
    snapshot = station.snapshot() if hasattr(station, "snapshot") else {}
    config = getattr(station, "config", None)
    if config is not None:  # the station file itself, so `ssbench resume RUN.h5` can reopen it
        snapshot[STATION_FILE_KEY] = config.model_dump(mode="json")

    def create(streams: list[StreamDescriptor]) -> RunWriter:
        return RunWriter(
            path,
            streams,
            sample=sample_metadata(protocol),
            station=snapshot,
            protocol_text=source_text,
            protocol_json=protocol.normalized_json(),
            protocol_sha256=protocol.sha256(),
            frame_sources={frames.name: shape} if shape is not None else None,
            clock_anchor_utc=station.clock.utc_anchor,
        )

    return RunFileRecorder(None, [frames.name] if shape is not None else [], create=create)


class RunFileRecorder(Listener):
    """Stream descriptors, samples, events and frames into a run file: a new one is created
    (``create``) from the descriptors the engine publishes at run start; an open one (a resumed
    run's ``writer``) is checked against them."""

    critical = True

    def __init__(
        self,
        writer: RunWriter | None,
        frame_sources: Iterable[str] = (),
        create: Callable[[list[StreamDescriptor]], RunWriter] | None = None,
    ) -> None:
        if (writer is None) == (create is None):
            raise ValueError("RunFileRecorder needs exactly one of writer and create")
        self.writer = writer
        self.frame_sources = set(frame_sources)
        self._create = create

    def on_start(self, descriptors: list[StreamDescriptor]) -> None:
        if self.writer is None:
            self.writer = self._create(descriptors)
        else:
            self.writer.check_streams(descriptors)

    def close(self, status: str, reason: str = "") -> None:
        """Close the run file with its exit status; a run that never started (the engine
        failed before) still gets its file, without streams, so the failure is recorded."""
        if self.writer is None:
            self.writer = self._create([])
        self.writer.close(status, reason)

    def on_samples(self, stream: str, data: dict[str, np.ndarray]) -> None:
        self.writer.append(stream, data)

    def on_event(self, event: EngineEvent) -> None:
        self.writer.event(event.time, event.kind, event.text, event.step, event.data)

    def on_frame(self, source: str, time: float, image: np.ndarray) -> None:
        if source in self.frame_sources:  # else its shape was never known: see open_recorder
            self.writer.add_frame(source, time, np.asarray(image, dtype=np.uint16))
