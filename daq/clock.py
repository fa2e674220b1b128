"""One clock per run: real (monotonic + UTC anchor) or virtual (advanced by the simulation).

Every wait in the project goes through :meth:`Clock.sleep`, so a simulated run on a
:class:`VirtualClock` is fast and deterministic while a real run uses wall time — same code path.

Times are floats in seconds on the run clock; ``utc(t)`` maps them back to wall-clock UTC.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta


class Clock(ABC):
    """Run clock: seconds since the run's start, plus the UTC instant of ``t = 0``."""

    def __init__(self, utc_anchor: datetime | None = None) -> None:
        self.utc_anchor: datetime = utc_anchor or datetime.now(UTC)

    @abstractmethod
    def now(self) -> float:
        """Seconds on the run clock."""

    @abstractmethod
    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of run time (virtual clocks advance instead of waiting)."""

    def sleep_until(self, t: float) -> None:
        """Wait until the run clock reads ``t`` (returns at once if it already does)."""
        remaining = t - self.now()
        if remaining > 0:
            self.sleep(remaining)

    def utc(self, t: float) -> datetime:
        """The UTC instant of run time ``t``."""
        return self.utc_anchor + timedelta(seconds=t)

    @contextmanager
    def participant(self, background: bool = False) -> Iterator[None]:
        """Declare the calling thread as a time-consuming participant (see VirtualClock)."""
        yield

    @contextmanager
    def at_wall_pace(self) -> Iterator[None]:
        """While inside, run time follows wall time (a paused run waiting for a person);
        a real clock already does."""
        yield

    @property
    def is_virtual(self) -> bool:
        return False


class RealClock(Clock):
    """Wall time from ``time.monotonic`` with a UTC anchor taken at construction.

    ``rate`` > 1 runs a scaled clock (simulated instruments served to outside clients, where
    nobody sleeps on a virtual clock to advance it): ``rate`` run seconds per real second.
    """

    def __init__(self, rate: float = 1.0) -> None:
        super().__init__()
        if not rate > 0:
            raise ValueError(f"clock rate must be > 0, got {rate}")
        self.rate = rate
        self._t0 = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self._t0) * self.rate

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.rate)


class VirtualClock(Clock):
    """Simulated time, advanced in discrete jumps when every participant is asleep.

    Threads that consume time (protocol tracks, a pressure loop) enter
    :meth:`participant`. Time jumps to the earliest wake-up once all participants are
    sleeping, so concurrent tracks stay in step and a run is deterministic. A thread that
    sleeps without having registered is counted as a participant for the duration of that
    sleep, so a single-threaded script needs no ceremony. Instrument-internal loops (an
    emulated controller, a camera) join with ``background=True``: they keep step with time
    but never drive it alone, so an idle simulated station does not race ahead.

    ``acceleration`` paces the jumps against wall time (virtual seconds per real second,
    anchored to the wall clock so the pace holds over a run); ``None`` runs as fast as
    possible. :meth:`at_wall_pace` switches to 1 s per s for a while (a paused run).
    ``wall`` is the wall-time source the pace reads (seconds, monotonic); tests pass their
    own to drive the pace by hand.
    """

    #: a pace that fell behind by more than this (s of wall time) restarts from now, so a
    #: slow stretch is not followed by a burst that catches up
    MAX_LAG_S = 0.25

    def __init__(
        self,
        start: float = 0.0,
        acceleration: float | None = None,
        utc_anchor: datetime | None = None,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(utc_anchor)
        if acceleration is not None and not acceleration > 0:
            raise ValueError(f"acceleration must be > 0, got {acceleration}")
        self.acceleration = acceleration
        self._t = float(start)
        self._cond = threading.Condition()
        self._participants: dict[int, int] = {}  # thread id -> nesting depth
        self._background: set[int] = set()  # participants that never drive time alone
        self._wake: dict[int, float] = {}  # sleeping thread id -> wake-up time
        self._wall = wall
        self._anchor = (wall(), self._t)  # (wall, run) time the pace counts from

    @property
    def is_virtual(self) -> bool:
        return True

    def now(self) -> float:
        with self._cond:
            return self._t

    def advance(self, seconds: float) -> None:
        """Move time forward by hand (for tests and single-threaded models)."""
        if seconds < 0:
            raise ValueError(f"cannot advance a clock backwards ({seconds} s)")
        with self._cond:
            self._t += seconds
            self._anchor = (self._anchor[0], self._anchor[1] + seconds)
            self._cond.notify_all()

    @contextmanager
    def at_wall_pace(self) -> Iterator[None]:
        with self._cond:
            previous, self.acceleration = self.acceleration, 1.0
            self._anchor = (self._wall(), self._t)
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self.acceleration = previous
                self._anchor = (self._wall(), self._t)
                self._cond.notify_all()

    @contextmanager
    def participant(self, background: bool = False) -> Iterator[None]:
        tid = threading.get_ident()
        with self._cond:
            self._participants[tid] = self._participants.get(tid, 0) + 1
            if background:
                self._background.add(tid)
        try:
            yield
        finally:
            with self._cond:
                depth = self._participants[tid] - 1
                if depth:
                    self._participants[tid] = depth
                else:
                    del self._participants[tid]
                    self._background.discard(tid)
                self._try_advance()
                self._cond.notify_all()

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"cannot sleep a negative time ({seconds} s)")
        tid = threading.get_ident()
        with self._cond:
            temporary = tid not in self._participants
            if temporary:
                self._participants[tid] = 1
            wake = self._t + seconds
            self._wake[tid] = wake
            try:
                while self._t < wake:
                    delay = self._try_advance()
                    if delay > 0:
                        self._cond.wait(timeout=min(delay, 0.05))
            finally:
                del self._wake[tid]
                if temporary:
                    del self._participants[tid]
                self._cond.notify_all()

    def _try_advance(self) -> float:
        """Jump to the earliest wake-up if every participant sleeps and the pace allows it.
        Returns 0 after a jump, else the wall seconds worth waiting (inf: nobody drives
        time). Caller holds the lock; never blocks."""
        if not self._wake or len(self._wake) < len(self._participants):
            return float("inf")
        if len(self._background) >= len(self._participants):
            return float("inf")  # only instrument loops are waiting: nobody drives time
        target = min(self._wake.values())
        if target <= self._t:
            return float("inf")
        if self.acceleration is not None:
            wall = self._wall()
            wall0, t0 = self._anchor
            due = wall0 + (target - t0) / self.acceleration
            if wall < due:
                return due - wall
            if wall - due > self.MAX_LAG_S:
                self._anchor = (wall, target)
        self._t = target
        self._cond.notify_all()
        return 0.0
