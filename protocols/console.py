"""Command-line companions of a run: a progress bar and Ctrl-C handling.

First Ctrl-C: a deferred pause and a prompt (``r`` resume, ``s`` stop after the current step,
``a`` abort). Second Ctrl-C: abort (safe state, data kept). SIGTERM and SIGHUP (a ``kill``, a
closed terminal or ssh session) abort the same way. Never an undefined state.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from protocols.engine import Engine, EngineEvent, Listener, Progress
from protocols.estimate import hms

PROMPT = (
    "paused at the next safe point: [r]esume, [s]top after this step, [a]bort (Ctrl-C aborts) > "
)
_SHOWN_EVENTS = {"limit_trip", "outcome", "detector", "fault", "retry", "pause", "resume", "abort", "restore",
                 "stop", "timeout", "safe_state_failed", "current_interrupt", "approach"}  # fmt: skip


class ProgressBar(Listener):
    """One refreshed line on ``stream``: bar, percent, remaining run time, current steps."""

    def __init__(
        self, stream: TextIO = sys.stderr, width: int = 24, min_interval: float = 0.2
    ) -> None:
        self.stream, self.width, self.min_interval = stream, width, min_interval
        self._last = 0.0

    def on_progress(self, progress: Progress) -> None:
        wall = time.monotonic()
        if wall - self._last < self.min_interval:
            return
        self._last = wall
        filled = int(progress.fraction * self.width)
        steps = ", ".join(f"{k}: {v}" for k, v in progress.current.items())
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {progress.fraction:4.0%} "
                          f"t={hms(progress.elapsed)} left~{hms(progress.remaining)} {progress.state} {steps[:60]:<60}")  # fmt: skip
        self.stream.flush()

    def on_event(self, event: EngineEvent) -> None:
        if event.kind in _SHOWN_EVENTS:
            self.stream.write(f"\n[{hms(event.time)}] {event.kind}: {event.text}\n")
        elif event.kind == "run_end":
            self.stream.write("\n")


@contextmanager
def interactive(engine: Engine, stdin: TextIO = sys.stdin) -> Iterator[Engine]:
    """Install the Ctrl-C policy for the duration of ``engine.run()`` (main thread only)."""
    presses = {"n": 0}

    def ask() -> None:
        while engine.paused or presses["n"] == 1:
            sys.stderr.write("\n" + PROMPT)
            sys.stderr.flush()
            answer = stdin.readline().strip().lower()
            if not answer:  # EOF or empty: keep asking only on a terminal
                if not stdin.isatty():
                    return
                continue
            if answer[0] in "rsa":
                presses["n"] = 0
                {"r": engine.resume, "s": engine.stop, "a": engine.abort}[answer[0]]()
                return

    def on_sigint(signum, frame) -> None:
        presses["n"] += 1
        if presses["n"] == 1:
            engine.pause()
            threading.Thread(target=ask, daemon=True, name="pause-prompt").start()
        else:
            engine.abort()

    def on_terminate(signum, frame) -> None:
        engine.abort(f"aborted by {signal.Signals(signum).name}")

    if threading.current_thread() is not threading.main_thread():
        yield engine
        return
    handlers = {signal.SIGINT: on_sigint, signal.SIGTERM: on_terminate}
    if hasattr(signal, "SIGHUP"):  # POSIX: the terminal closed
        handlers[signal.SIGHUP] = on_terminate
    previous = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
    try:
        yield engine
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
