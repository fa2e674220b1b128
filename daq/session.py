"""Run, resume and demo: station + engine + run file + live detectors, as the CLI uses them."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from daq.documents import StreamDescriptor
from daq.recording import RunFileRecorder, open_recorder, sample_metadata
from daq.resume import ResumePoint, resume_point
from daq.runfile import RunFileError, RunReader, RunWriter
from daq.terminate import Terminated, deferred_signals
from protocols.engine import Engine, Listener, RunResult
from protocols.model import Protocol

Controller = Callable[[Engine], Any]


@dataclass
class RunOutput:
    """Where the run went and how it ended."""

    path: Path
    result: RunResult


def live_detectors(protocol: Protocol) -> list[Any]:
    """Void-onset and short detectors configured for this cell exactly as offline analysis does:
    none for a cell with a cathode (they assume Li-metal electrodes near 0 V; a full cell's
    short is the runaway charge the cycling templates guard against)."""
    from analysis.cell import cell_kind
    from analysis.live import detectors_for

    sample = sample_metadata(protocol)
    if cell_kind(sample).kind == "cathode":
        return []
    return list(detectors_for(sample))


def run_file_name(protocol: Protocol, when: datetime | None = None) -> str:
    """``20260122T101500Z_ccd-llzo.h5``: UTC start and a slug of the protocol name."""
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    slug = re.sub(r"[^A-Za-z0-9]+", "-", protocol.name).strip("-").lower() or "run"
    return f"{stamp}_{slug}.h5"


def _ended_early(exc: BaseException, before: str) -> tuple[str, str]:
    """(status, reason) of a run file closed because ``exc`` came before the engine ran."""
    if isinstance(exc, Terminated):
        return before, f"{exc} before the engine started"
    return "failed", f"{type(exc).__name__}: {exc}"


def _engine_run(
    engine: Engine, recorder: RunFileRecorder, controller: Controller | None
) -> RunResult:
    result: RunResult | None = None
    try:
        with controller(engine) if controller is not None else contextlib.nullcontext():
            result = engine.run()
    except BaseException as exc:
        with deferred_signals():  # a signal as the console policy is removed: the run ended
            if result is None:
                recorder.close("failed", f"{type(exc).__name__}: {exc}")
            else:
                recorder.close(str(result.status), result.reason)
        raise
    with deferred_signals():
        recorder.close(str(result.status), result.reason)
    return result


class _Announce(Listener):
    """Calls ``on_created(path)`` at run start, after the recorder (first) made the file."""

    def __init__(self, path: Path, on_created: Callable[[Path], None]) -> None:
        self.path, self.on_created = path, on_created

    def on_start(self, descriptors: list[StreamDescriptor]) -> None:
        self.on_created(self.path)


def execute(
    protocol: Protocol,
    source_text: str,
    station: Any,
    path: str | Path,
    listeners: Iterable[Listener] = (),
    controller: Controller | None = None,
    detectors: bool = True,
    on_created: Callable[[Path], None] | None = None,
) -> RunOutput:
    """Run ``protocol`` on an opened ``station`` into a new run file at ``path``;
    ``on_created(path)`` is called once the file exists (the CLI's "recording to" line)."""
    recorder = open_recorder(path, protocol, source_text, station)
    announce = [] if on_created is None else [_Announce(Path(path), on_created)]
    try:
        engine = Engine(protocol, station, [recorder, *announce, *listeners],
                        detectors=live_detectors(protocol) if detectors else ())  # fmt: skip
    except BaseException as exc:
        with deferred_signals():
            recorder.close(*_ended_early(exc, "aborted"))
        raise
    return RunOutput(Path(path), _engine_run(engine, recorder, controller))


def check_resumable(point: ResumePoint, path: str | Path, force: bool = False) -> None:
    """Refuse to continue a run that ended: only ``interrupted`` (or ``failed`` with ``force``)."""
    status = point.previous_status
    if status != "interrupted" and not (force and status == "failed"):
        hint = " (--force continues a failed run)" if status == "failed" else ""
        raise RunFileError(f"{path}: the run is {status!r}; only an interrupted run can be "
                           f"resumed{hint}")  # fmt: skip


def resume(
    path: str | Path,
    station: Any,
    listeners: Iterable[Listener] = (),
    controller: Controller | None = None,
    detectors: bool = True,
    force: bool = False,
) -> RunOutput:
    """Continue the run in ``path`` after its last completed step, as a new segment.

    Only an ``interrupted`` run (the process died) continues; a ``failed`` one with ``force``.
    A run that ended (success, stopped, aborted, tripped) is refused: it is a record."""
    with RunReader(path) as reader:
        point = resume_point(reader)
        frame_sources = reader.frame_sources
    check_resumable(point, path, force)
    protocol = point.protocol
    recorder = RunFileRecorder(RunWriter.reopen(path), frame_sources)
    try:
        engine = Engine(
            protocol,
            station,
            [recorder, *listeners],
            detectors=live_detectors(protocol) if detectors else (),
            resume=point.states,
            signals=point.signals,
            first_step=point.first_step,
            segment=point.segment,
            restore=point.setpoints,
            time_offset=point.time_offset + 1.0 / protocol.sampling.rate,
        )
    except BaseException as exc:  # a signal now leaves the run resumable, as it was
        with deferred_signals():
            recorder.close(*_ended_early(exc, "interrupted"))
        raise
    return RunOutput(Path(path), _engine_run(engine, recorder, controller))
