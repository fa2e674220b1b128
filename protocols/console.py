"""Command-line companions of a run: a progress bar and Ctrl-C handling.

First Ctrl-C (SIGINT): a deferred pause (at the end of the step in progress; the expected
wait is shown). On a terminal a prompt follows (``i`` pause now, ``r`` resume, ``s`` stop after
the current step, ``a`` abort) and the progress line stays quiet while it waits; with no
terminal on standard input (a script, a pipe, ``/dev/null``) nobody could answer, so one line
says how to go on instead: SIGUSR1 resumes, a second SIGINT or SIGTERM aborts. Second Ctrl-C:
abort (safe state, data kept). SIGTERM and SIGHUP (a ``kill``, a closed terminal or ssh
session) abort the same way. SIGUSR1 resumes a paused or pausing run, terminal or not. Never
an undefined state.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from daq.documents import EventKind as K
from protocols.engine import Engine, EngineEvent, Listener, Progress
from protocols.estimate import hms
from protocols.pace import PaceMeter, show_pace
from protocols.runstate import RequestRefused

PROMPT = "[i]mmediate pause (sources off now), [r]esume, [s]top after this step, [a]bort (Ctrl-C aborts) > "
_SHOWN_EVENTS = {K.LIMIT_TRIP, K.OUTCOME, K.DETECTOR, K.FAULT, K.RETRY, K.PAUSE, K.RESUME, K.ABORT,
                 K.RESTORE, K.STOP, K.TIMEOUT, K.SAFE_STATE_FAILED, K.CURRENT_INTERRUPT,
                 K.APPROACH}  # fmt: skip


def _until_pause(seconds: float | None) -> str:
    """What the operator waits for after Ctrl-C: the end of the step(s) in progress."""
    if seconds is None:
        return "(the step ends on a measurement: time unknown)"
    if seconds <= 0:
        return "(now)"
    return f"(≈ {hms(seconds)} h:mm:ss of run time)"


class ProgressBar(Listener):
    """Progress on ``stream``: one refreshed line on a terminal (kept off while ``prompting``);
    elsewhere (a log, a pipe) a plain line at the start, at the end and whenever
    ``max(every_s, every_fraction × expected duration)`` of run time has passed since the last
    one: every minute or every 1 %, whichever is less often, so a log shows life at least
    every 1 % of a long run without flooding a short one. A ``simulated`` run's line shows its
    pace ("870× real time") over the last seconds of wall time."""

    def __init__(self, stream: TextIO | None = None, width: int = 24, min_interval: float = 0.2,
                 prompting: threading.Event | None = None, every_s: float = 60.0,
                 every_fraction: float = 0.01, simulated: bool = False) -> None:  # fmt: skip
        stream = stream or sys.stderr  # the stderr of now, not of import time
        self.stream, self.width, self.min_interval = stream, width, min_interval
        self.prompting = prompting or threading.Event()
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.every_s, self.every_fraction = every_s, every_fraction
        self._last = 0.0
        self._logged: float | None = None  # run time of the last plain line
        self._logged_end = False
        self._meter = PaceMeter() if simulated else None
        self._pace = ""

    def _plain_due(self, progress: Progress) -> bool:
        """Whether a plain (non-terminal) line is due for ``progress``."""
        if self._logged is None:
            return True
        if progress.fraction >= 1.0:
            return not self._logged_end
        interval = max(self.every_s, self.every_fraction * progress.expected)
        return progress.elapsed - self._logged >= interval

    def _line(self, progress: Progress) -> str:
        steps = ", ".join(f"{k}: {v}" for k, v in progress.current.items())
        pace = f" {self._pace}" if self._pace else ""
        return (f"{progress.fraction:4.0%} t={hms(progress.elapsed)} left~{hms(progress.remaining)} "
                f"{progress.state}{pace} {steps}")  # fmt: skip

    def on_progress(self, progress: Progress) -> None:
        if self._meter is not None:
            self._pace = show_pace(self._meter.add(progress.elapsed))
        if not self.tty:
            if self._plain_due(progress):
                self._logged = progress.elapsed
                self._logged_end = progress.fraction >= 1.0
                self.stream.write(self._line(progress) + "\n")
                self.stream.flush()
            return
        wall = time.monotonic()
        if self.prompting.is_set() or wall - self._last < self.min_interval:
            return
        self._last = wall
        filled = int(progress.fraction * self.width)
        line = self._line(progress)
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {line[:100]:<100}")
        self.stream.flush()

    def on_event(self, event: EngineEvent) -> None:
        if event.kind in _SHOWN_EVENTS:
            lead = "\n" if self.tty else ""
            self.stream.write(f"{lead}[{hms(event.time)}] {event.kind}: {event.text}\n")
            if self.prompting.is_set():
                self.stream.write(PROMPT)
            self.stream.flush()
        elif event.kind == K.RUN_END and self.tty:
            self.stream.write("\n")


def _no_terminal_hint() -> str:
    """How to go on from a pause when nobody can answer a prompt (stdin is not a terminal)."""
    pid = os.getpid()
    return (f"no terminal on standard input: resume with `kill -USR1 {pid}`, abort with a second "
            f"Ctrl-C (`kill -INT {pid}`) or `kill {pid}`\n")  # fmt: skip


def _is_terminal(stream: TextIO | None) -> bool:
    """Whether ``stream`` is an open terminal (a closed or missing stdin is not)."""
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):  # closed
        return False


def _granted(request) -> bool:
    """Make an engine request; a refused one (illegal in the run's state) is said, not raised."""
    try:
        request()
    except RequestRefused as exc:
        sys.stderr.write(f"\n{exc}\n")
        return False
    return True


@contextmanager
def interactive(
    engine: Engine, stdin: TextIO | None = None, prompting: threading.Event | None = None
) -> Iterator[Engine]:
    """Install the Ctrl-C / SIGTERM / SIGHUP policy for ``engine.run()`` (main thread only).
    ``prompting`` is set while the prompt waits for an answer (progress bars stay quiet)."""
    stdin = stdin or sys.stdin  # the stdin of now, not of import time
    presses = {"n": 0}
    prompting = prompting or threading.Event()

    def announce() -> None:
        sys.stderr.write("\nCtrl-C: pausing at the end of the current step "
                         f"{_until_pause(engine.time_to_step_end())}; the cell runs until then\n")  # fmt: skip
        sys.stderr.flush()

    def ask() -> None:
        prompting.set()
        announce()
        try:
            while True:
                sys.stderr.write(PROMPT)
                sys.stderr.flush()
                answer = stdin.readline().strip().lower()
                if not answer:  # EOF or empty: keep asking only while it is a terminal
                    if not _is_terminal(stdin):
                        return
                    continue
                if answer[0] == "i":
                    if _granted(lambda: engine.pause(immediate=True)):
                        sys.stderr.write("pausing now: sources off, pressure kept\n")
                elif answer[0] in "rsa":
                    presses["n"] = 0
                    _granted({"r": engine.resume, "s": engine.stop, "a": engine.abort}[answer[0]])
                    return
        finally:
            prompting.clear()

    def on_sigint(signum, frame) -> None:
        presses["n"] += 1
        if presses["n"] > 1:
            _granted(engine.abort)
        elif _granted(engine.pause):
            if _is_terminal(stdin):
                threading.Thread(target=ask, daemon=True, name="pause-prompt").start()
            else:  # nobody could answer a prompt
                announce()
                sys.stderr.write(_no_terminal_hint())
                sys.stderr.flush()

    def on_resume(signum, frame) -> None:
        if _granted(engine.resume):
            presses["n"] = 0
            sys.stderr.write("SIGUSR1: resuming\n")
            sys.stderr.flush()

    def on_terminate(signum, frame) -> None:
        _granted(lambda: engine.abort(f"aborted by {signal.Signals(signum).name}"))

    if threading.current_thread() is not threading.main_thread():
        yield engine
        return
    handlers = {signal.SIGINT: on_sigint, signal.SIGTERM: on_terminate}
    if hasattr(signal, "SIGHUP"):  # POSIX: the terminal closed; SIGUSR1: resume from a script
        handlers[signal.SIGHUP] = on_terminate
        handlers[signal.SIGUSR1] = on_resume
    previous = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
    try:
        yield engine
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
