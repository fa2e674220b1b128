"""How fast a simulated run goes: run seconds per wall second over a sliding window of wall time.

The CLI's progress line and the GUI show it for runs on a virtual clock ("870× real time"), so a
user sees the effect of ``--speed`` and of a pause (1× while paused: the clock follows wall time).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class PaceMeter:
    """Run time per wall time over the last ``window_s`` seconds of wall time."""

    def __init__(self, window_s: float = 5.0, wall: Callable[[], float] = time.monotonic) -> None:
        self.window_s, self._wall = window_s, wall
        self._marks: deque[tuple[float, float]] = deque()  # (wall, run) time, oldest first

    def add(self, run_t: float) -> float | None:
        """Note that the run clock reads ``run_t`` now; the pace over the window (None until
        0.2 s of wall time has been seen)."""
        now = self._wall()
        if not self._marks or now - self._marks[-1][0] >= 0.05:  # a mark per 50 ms is enough
            self._marks.append((now, run_t))
        while len(self._marks) > 2 and now - self._marks[1][0] >= self.window_s:
            self._marks.popleft()  # keep one mark at or before the window's start
        wall0, run0 = self._marks[0]
        return (run_t - run0) / (now - wall0) if now - wall0 >= 0.2 else None


def show_pace(pace: float | None) -> str:
    """``"870× real time"``; empty until a pace is measured."""
    if pace is None:
        return ""
    return f"{pace:.0f}× real time" if pace >= 10 else f"{pace:.2g}× real time"
