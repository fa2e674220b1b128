"""Threads and the GUI: instrument I/O and the engine never run on the GUI thread.

* :class:`StationWorker` does every station call (open, read, close) on one worker thread and
  reports back through Qt signals (queued to the GUI thread).
* :class:`RunWorker` runs a protocol (``daq.session.execute``: engine + run-file recorder
  + live detectors) on its own thread. Its :class:`GuiListener` is called on the engine thread;
  it only appends to a locked queue and emits ``wake``. The GUI drains the queue at most
  ~25 times a second (:data:`DRAIN_MS`), so a fast virtual clock cannot flood the event loop.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

log = logging.getLogger(__name__)
DRAIN_MS = 40


class GuiListener:
    """Engine listener: copies what the engine produces into a queue (engine thread side)."""

    critical = False

    def __init__(self, wake: Callable[[], None]) -> None:
        self._lock = threading.Lock()
        self._items: deque[tuple[str, Any]] = deque()
        self._progress: Any = None
        self._wake = wake

    def _put(self, item: tuple[str, Any]) -> None:
        with self._lock:
            self._items.append(item)
        self._wake()

    def on_start(self, descriptors: list[Any]) -> None:
        self._put(("start", list(descriptors)))

    def on_samples(self, stream: str, data: dict[str, np.ndarray]) -> None:
        self._put(("samples", (stream, {k: np.array(v, copy=True) for k, v in data.items()})))

    def on_event(self, event: Any) -> None:
        self._put(("event", event))

    def on_frame(self, source: str, time: float, image: np.ndarray) -> None:
        self._put(("frame", (source, time, np.array(image, copy=True))))

    def on_state(self, state: Any) -> None:
        self._put(("state", state))

    def on_progress(self, progress: Any) -> None:
        with self._lock:
            self._progress = progress
        self._wake()

    def drain(self) -> tuple[list[tuple[str, Any]], Any]:
        """Everything queued since the last drain, and the latest progress (GUI thread)."""
        with self._lock:
            items, self._items = list(self._items), deque()
            progress, self._progress = self._progress, None
        return items, progress


class RunWorker(QObject):
    """One run on a worker thread; control requests go straight to the (thread-safe) engine."""

    wake = Signal()
    # payloads never carry None: PySide6 mis-counts references to None passed as ``object``
    batch = Signal(list)  # drained items, ("progress", Progress) last when there is one
    finished = Signal()  # see ``output`` and ``error``

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.listener = GuiListener(self.wake.emit)
        self.engine: Any = None
        self.output: Any = None  # RunOutput of the last run
        self.error = ""  # why the last run could not run (empty when it ran)
        self.path: Path | None = None
        self._thread: threading.Thread | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DRAIN_MS)
        self._timer.timeout.connect(self._drain)
        self.wake.connect(self._schedule)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, protocol: Any, text: str, station: Any, path: Path) -> None:
        """Start ``protocol`` on ``station`` recording into ``path``."""
        if self.running:
            raise RuntimeError("a run is already in progress")
        self.path, self.engine, self.output, self.error = path, None, None, ""
        self._thread = threading.Thread(
            target=self._body, args=(protocol, text, station, path), name="ssbench-run", daemon=True
        )
        self._thread.start()

    def _capture(self, engine: Any):
        self.engine = engine
        return nullcontext()

    def _body(self, protocol: Any, text: str, station: Any, path: Path) -> None:
        from daq.session import execute

        try:
            out = execute(protocol, text, station, path, [self.listener], controller=self._capture)
        except Exception as exc:  # noqa: BLE001 - reported in the window, never a traceback
            log.exception("run failed")
            self.error = f"{type(exc).__name__}: {exc}"
        else:
            self.output = out
        self.finished.emit()

    def _schedule(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def _drain(self) -> None:
        items, progress = self.listener.drain()
        if progress is not None:
            items.append(("progress", progress))
        if items:
            self.batch.emit(items)

    def flush(self) -> None:
        """Deliver whatever is queued now (end of run)."""
        self._timer.stop()
        self._drain()

    def control(self, action: str) -> str:
        """pause / pause_now / resume / stop / abort: what happened, for the status bar
        ("" when no engine is running; the engine's reason when it refuses the request)."""
        from protocols.runstate import RequestRefused

        engine = self.engine
        if engine is None or not self.running:
            return ""
        requests = {"pause": engine.pause, "pause_now": lambda: engine.pause(immediate=True),
                    "resume": engine.resume, "stop": engine.stop, "abort": engine.abort}  # fmt: skip
        try:
            requests[action]()
        except RequestRefused as exc:
            return str(exc)
        return f"{action.replace('_', ' ')} requested"

    def join(self, timeout: float) -> bool:
        """Wait for the run thread; True when it has ended."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()


def read_role(instrument: Any) -> dict[str, float]:
    """One reading of an instrument, by role, as SI floats (worker thread)."""
    role = instrument.role
    if role in ("potentiostat", "bias_holder"):
        r = instrument.read()
        return {"voltage": r.voltage, "current": r.current}
    if role == "pressure_rig":
        r = instrument.read()
        return {"pressure": r.pressure, "force": r.force}
    if role == "thermal":
        return {"temperature": instrument.read_temperature()}
    return {}


class StationWorker(QObject):
    """Opens, polls and closes a station on one worker thread."""

    opened = Signal(object)  # Station
    failed = Signal(str)
    closed = Signal()
    readings = Signal(dict)  # instrument name -> dict of readings, or {"error": text}

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ssbench-station")
        self._polling = False

    def open(self, config: Any, simulate: bool, speed: float | None) -> None:
        self._pool.submit(self._open, config, simulate, speed)

    def _open(self, config: Any, simulate: bool, speed: float | None) -> None:
        from daq.clock import VirtualClock
        from daq.station import Station

        try:
            use_sim = simulate or config.simulated
            clock = VirtualClock(acceleration=speed) if use_sim else None
            station = Station.open(config, simulate=simulate, clock=clock)
        except Exception as exc:  # noqa: BLE001 - shown inline in the station panel
            self.failed.emit(str(exc))
            return
        self.opened.emit(station)

    def close(self, station: Any) -> None:
        self._pool.submit(self._close, station)

    def _close(self, station: Any) -> None:
        try:
            station.close()
        finally:
            self.closed.emit()

    def poll(self, station: Any) -> None:
        """Read every instrument once (skipped while the previous poll is still running)."""
        if self._polling:
            return
        self._polling = True
        self._pool.submit(self._poll, station)

    def _poll(self, station: Any) -> None:
        out: dict[str, dict] = {}
        try:
            for name, instrument in station.instruments.items():
                try:
                    out[name] = read_role(instrument)
                except Exception as exc:  # noqa: BLE001 - one instrument failing is shown inline
                    out[name] = {"error": str(exc)}
        finally:
            self._polling = False
        self.readings.emit(out)

    def quiesce(self, timeout: float = 10.0) -> None:
        """Wait until station calls already queued have finished (before a run takes over)."""
        self._pool.submit(lambda: None).result(timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)
