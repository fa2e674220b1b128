"""SIGTERM / SIGHUP outside a run's own signal policy: raise :class:`Terminated`, or wait.

``ssbench`` installs :func:`terminate_on_signals` on the first line of ``main``: before a run's
engine installs its policy (abort to the safe state) and after it removes it, a signal raises
:class:`Terminated`, which unwinds the open station and the run file like any other error.
:func:`deferred_signals` holds such a signal back while a run file is being closed, so the
record is never half-written.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_SIGNALS = (signal.SIGTERM, *((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()))


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived outside a run's own signal policy (start-up, shut-down)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"terminated by {signal.Signals(signum).name}")


def _quiet_exit(signum: int, frame: object) -> None:
    os._exit(128 + signum)


def exit_quietly_until_main() -> None:
    """While ``ssbench`` imports (nothing opened, nothing written yet), SIGINT/SIGTERM/SIGHUP
    end the process at once with ``128 + signal`` and no traceback; ``main`` takes over."""
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, *_SIGNALS):
            signal.signal(signum, _quiet_exit)


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(signum)


@contextmanager
def terminate_on_signals() -> Iterator[None]:
    """SIGTERM/SIGHUP raise :class:`Terminated` while inside (main thread only); restored after.

    Like Ctrl-C, the handler runs between Python bytecodes: a main thread stuck inside C code
    (h5py looping on a damaged file) runs it only when that call returns; SIGKILL ends it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _raise_terminated) for signum in _SIGNALS}
    previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            if handler is _quiet_exit:  # back to the defaults, not to the import-time policy
                handler = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
            signal.signal(signum, handler)


@contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGTERM/SIGHUP back while inside (e.g. closing a run file); delivered after."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
