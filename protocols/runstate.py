"""The run's state machine: states, the transition table, operator requests and exit status.

::

    idle ──start──> running ──pause──> pausing ──boundary──> paused ──resume──> running
                      │  └──pause_now──────────────────────────┘ ↑
                      ├──stop──> stopping ──finish──> finished (exit status)
                      └──abort─> aborting ──finish──┘

Operator requests (``pause``, ``pause_now``, ``resume``, ``stop``, ``abort``) may come from any
thread or a signal handler; :meth:`RunControl.request` checks each against the state the run
will be in once the requests already queued are applied, and refuses an illegal one with
:class:`RequestRefused` (a clear one-line reason) instead of dropping it. The engine thread
applies them with :meth:`RunControl.fire` — the one place the state changes.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from enum import StrEnum


class RunState(StrEnum):
    """Where a run is (the values are what the GUI and the progress line show)."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSING = "pausing"  # a deferred pause waits for the steps in progress to end
    PAUSED = "paused"
    STOPPING = "stopping"  # the steps in progress finish, then the run ends 'stopped'
    ABORTING = "aborting"
    FINISHED = "finished"


class ExitStatus(StrEnum):
    """How a run ended (the run file's exit status; a file left by a killed process says
    ``interrupted``, which no engine reports)."""

    SUCCESS = "success"
    STOPPED = "stopped"
    ABORTED = "aborted"
    TRIPPED = "tripped"
    FAILED = "failed"


#: operator requests
REQUESTS = ("pause", "pause_now", "resume", "stop", "abort")

S = RunState
#: state -> {trigger -> next state}; triggers are the requests plus the engine's own
#: ``start``, ``boundary`` (every track at a step boundary: a deferred pause takes effect) and
#: ``finish``. A trigger missing from a state's row is illegal in that state.
TRANSITIONS: dict[RunState, dict[str, RunState]] = {
    S.IDLE: {"start": S.RUNNING, "abort": S.ABORTING, "finish": S.FINISHED},
    S.RUNNING: {"pause": S.PAUSING, "pause_now": S.PAUSED, "stop": S.STOPPING,
                "abort": S.ABORTING, "finish": S.FINISHED},
    S.PAUSING: {"boundary": S.PAUSED, "pause_now": S.PAUSED, "resume": S.RUNNING,
                "stop": S.STOPPING, "abort": S.ABORTING, "finish": S.FINISHED},
    S.PAUSED: {"resume": S.RUNNING, "stop": S.STOPPING, "abort": S.ABORTING,
               "finish": S.FINISHED},
    S.STOPPING: {"abort": S.ABORTING, "finish": S.FINISHED},
    S.ABORTING: {"abort": S.ABORTING, "finish": S.FINISHED},
    S.FINISHED: {},
}  # fmt: skip

_WHY = {S.IDLE: "it has not started", S.RUNNING: "it is running", S.PAUSING: "a pause is pending",
        S.PAUSED: "it is paused", S.STOPPING: "it is stopping", S.ABORTING: "it is aborting",
        S.FINISHED: "it has finished"}  # fmt: skip


class RequestRefused(ValueError):
    """A request that makes no sense in the run's state, e.g. ``resume`` while running."""

    def __init__(self, trigger: str, state: RunState) -> None:
        self.trigger, self.state = trigger, state
        super().__init__(f"cannot {trigger.replace('_', ' ')}: {_WHY[state]} (state {state})")


def next_state(state: RunState, trigger: str) -> RunState:
    """The state ``trigger`` leads to from ``state``; RequestRefused when it is illegal."""
    try:
        return TRANSITIONS[state][trigger]
    except KeyError:
        raise RequestRefused(trigger, state) from None


class RunControl:
    """The run's state, its queue of operator requests, and the one place the state changes."""

    def __init__(self, on_change: Callable[[RunState, RunState, str], None]) -> None:
        self.state = RunState.IDLE
        self._on_change = on_change
        self._queue: deque[str] = deque()
        self._lock = threading.RLock()  # re-entrant: a signal handler may run inside pop()

    def request(self, what: str) -> None:
        """Queue an operator request (any thread, or a signal handler)."""
        if what not in REQUESTS:
            raise ValueError(f"unknown run request {what!r} (known: {', '.join(REQUESTS)})")
        with self._lock:
            state = self.state
            for queued in self._queue:
                state = TRANSITIONS[state].get(queued, state)
            next_state(state, what)
            self._queue.append(what)

    @property
    def pending(self) -> bool:
        """Whether a request waits to be handled."""
        with self._lock:
            return bool(self._queue)

    def pop(self) -> str | None:
        """The oldest queued request, or None (engine thread)."""
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def fire(self, trigger: str) -> RunState:
        """Change the state by ``trigger`` (engine thread); RequestRefused when illegal."""
        with self._lock:
            old = self.state
            self.state = next_state(old, trigger)
        if self.state is not old:
            self._on_change(old, self.state, trigger)
        return self.state
