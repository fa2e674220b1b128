"""A periodic instrument-internal loop (emulated controller, camera) on the world's clock.

The thread joins the clock as a *background* participant: on a VirtualClock it keeps step with
the run but never drives time on its own. A sleeping background thread only wakes when someone
else advances time, so :meth:`ClockedLoop.stop` does not wait for it on a virtual clock: the
thread sees the stop flag and exits at its next wake-up (it is a daemon either way).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class ClockedLoop:
    """Call ``step()`` every ``period_s`` of ``clock`` (first call at once if ``step_first``)."""

    def __init__(
        self, clock: Any, period_s: float, step: Callable[[], None], name: str, step_first: bool
    ) -> None:
        if not period_s > 0:
            raise ValueError(f"{name}: period must be > 0 s, got {period_s}")
        self.clock = clock
        self.period_s = period_s
        self.step = step
        self.name = name
        self.step_first = step_first
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Start the thread (idempotent)."""
        if self._thread is None:
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(self._stop,), daemon=True, name=self.name
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop the loop; waits for the thread only on a real clock."""
        self._stop.set()
        if self._thread is not None:
            if not self.clock.is_virtual:
                self._thread.join(timeout=2 * self.period_s + 1.0)
            self._thread = None

    def _run(self, stop: threading.Event) -> None:
        with self.clock.participant(background=True):
            if self.step_first:
                self.step()
            while not stop.is_set():
                self.clock.sleep(self.period_s)
                if stop.is_set():
                    break
                self.step()
