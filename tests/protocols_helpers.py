"""Shared helpers for engine tests: run YAML on a fake station and collect what comes out."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import numpy as np
from protocols_fakes import FakeStation

from protocols.engine import Engine, EngineEvent, Listener, Progress, RunResult
from protocols.loader import load_protocol_text

HEAD = """\
name: t
sample: {area: 1 cm2}
limits: {voltage: {min: -2 V, max: 2 V}, current: 10 mA}
"""


class Collector(Listener):
    """Keeps every event and sample; ``hook(engine, collector, item)`` can steer the run."""

    def __init__(self, hook: Callable | None = None) -> None:
        self.events: list[EngineEvent] = []
        self.blocks: dict[str, list[dict[str, np.ndarray]]] = {}
        self.progress: list[Progress] = []
        self.frames: list[tuple[str, float]] = []
        self.hook = hook
        self.engine: Engine | None = None

    def on_event(self, event: EngineEvent) -> None:
        self.events.append(event)
        if self.hook:
            self.hook(self.engine, self, event)

    def on_samples(self, stream: str, data: dict[str, np.ndarray]) -> None:
        self.blocks.setdefault(stream, []).append(data)

    def on_progress(self, progress: Progress) -> None:
        self.progress.append(progress)
        if self.hook:
            self.hook(self.engine, self, progress)

    def on_frame(self, source: str, time: float, image: np.ndarray) -> None:
        self.frames.append((source, time))

    def stream(self, name: str) -> dict[str, np.ndarray]:
        blocks = self.blocks.get(name, [])
        if not blocks:
            return {}
        return {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}

    def kinds(self, kind: str) -> list[EngineEvent]:
        return [e for e in self.events if e.kind == kind]


def run_yaml(body: str, station: FakeStation | None = None, head: str = HEAD, hook: Callable | None = None,
             detectors=(), **engine_kw) -> tuple[RunResult, Collector, FakeStation]:  # fmt: skip
    protocol = load_protocol_text(head + textwrap.dedent(body), "t.yaml")
    station = station or FakeStation.full()
    collector = Collector(hook)
    engine = Engine(protocol, station, [collector], detectors=detectors, **engine_kw)
    collector.engine = engine
    return engine.run(), collector, station
