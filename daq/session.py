"""Run, resume and demo: station + engine + run file + live detectors, as the CLI uses them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from daq.recording import RunFileRecorder, open_recorder, sample_metadata
from daq.resume import ResumePoint, resume_point
from daq.runfile import RunFileError, RunReader, RunWriter
from protocols.engine import Engine, Listener, RunResult
from protocols.model import Protocol

Controller = Callable[[Engine], Any]


@dataclass
class RunOutput:
    """Where the run went and how it ended."""

    path: Path
    result: RunResult


def live_detectors(protocol: Protocol) -> list[Any]:
    """Void-onset and short detectors configured for this cell exactly as offline analysis does."""
    from analysis.live import detectors_for

    return list(detectors_for(sample_metadata(protocol)))


def run_file_name(protocol: Protocol, when: datetime | None = None) -> str:
    """``20260122T101500Z_ccd-llzo.h5``: UTC start and a slug of the protocol name."""
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    slug = re.sub(r"[^A-Za-z0-9]+", "-", protocol.name).strip("-").lower() or "run"
    return f"{stamp}_{slug}.h5"


def _engine_run(
    engine: Engine, recorder: RunFileRecorder, controller: Controller | None
) -> RunResult:
    try:
        if controller is not None:
            with controller(engine):
                result = engine.run()
        else:
            result = engine.run()
    except BaseException as exc:
        recorder.close("failed", f"{type(exc).__name__}: {exc}")
        raise
    recorder.close(str(result.status), result.reason)
    return result


def execute(
    protocol: Protocol,
    source_text: str,
    station: Any,
    path: str | Path,
    listeners: Iterable[Listener] = (),
    controller: Controller | None = None,
    detectors: bool = True,
) -> RunOutput:
    """Run ``protocol`` on an opened ``station`` into a new run file at ``path``."""
    recorder = open_recorder(path, protocol, source_text, station)
    try:
        engine = Engine(protocol, station, [recorder, *listeners],
                        detectors=live_detectors(protocol) if detectors else ())  # fmt: skip
    except BaseException as exc:
        recorder.close("failed", f"{type(exc).__name__}: {exc}")
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
    except BaseException as exc:
        recorder.close("failed", f"{type(exc).__name__}: {exc}")
        raise
    return RunOutput(Path(path), _engine_run(engine, recorder, controller))
