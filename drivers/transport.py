"""Instrument transports: one locked, logged, retrying line channel per instrument.

:class:`Transport` holds everything that does not depend on the wire: a re-entrant lock per
instrument (thread safety), an I/O log at DEBUG level with run-clock timestamps, bounded retries
with exponential backoff for *idempotent* operations only (a non-idempotent write is never
re-sent blindly), automatic reconnect after a lost link, verified safety writes, and a clean,
idempotent close (also at interpreter exit). Subclasses only move bytes: :class:`VisaTransport`
here (pyvisa), ``drivers.serial_transport.SerialTransport`` (pyserial).

Wire errors are translated into :mod:`drivers.errors` types that name the instrument and the
command being executed.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import socket
import threading
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from daq.clock import Clock, RealClock
from drivers.errors import (
    ConnectionLost,
    GarbledReply,
    InstrumentError,
    InstrumentTimeout,
    SafetyWriteFailed,
)

log = logging.getLogger("drivers.io")

T = TypeVar("T")

_OPEN: weakref.WeakSet[Transport] = weakref.WeakSet()


@atexit.register
def _close_all_at_exit() -> None:
    for transport in list(_OPEN):
        with contextlib.suppress(Exception):
            transport.close()


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: ``attempts`` tries in total, waits ``backoff_s * factor**k`` (capped)."""

    attempts: int = 3
    backoff_s: float = 0.02
    factor: float = 2.0
    max_backoff_s: float = 1.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"retry attempts must be >= 1, got {self.attempts}")
        if self.backoff_s < 0 or self.factor < 1 or self.max_backoff_s < 0:
            raise ValueError(f"invalid retry backoff in {self!r}")

    def delay(self, failures: int) -> float:
        """Wait before the next try after ``failures`` failed tries (>= 1)."""
        return min(self.backoff_s * self.factor ** (failures - 1), self.max_backoff_s)


#: errors after which the link state is unknown: reconnect before the next exchange
_LINK_ERRORS = (InstrumentTimeout, ConnectionLost)


class Transport(ABC):
    """Line-oriented channel to one instrument; see the module docstring for the guarantees."""

    def __init__(
        self,
        instrument: str,
        resource: str,
        *,
        timeout_s: float = 2.0,
        read_termination: str = "\n",
        write_termination: str = "\n",
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"{instrument}: timeout must be > 0 s, got {timeout_s}")
        self.instrument = instrument
        self.resource = resource
        self.timeout_s = float(timeout_s)
        self.read_termination = read_termination
        self.write_termination = write_termination
        self.retry = retry or RetryPolicy()
        self.clock = clock or RealClock()
        self.lock = threading.RLock()
        self._connected = False
        self._closed = False
        self.reconnects = 0
        with self.lock:
            self._connect()
        _OPEN.add(self)

    # -- byte movers, implemented per wire ------------------------------------------------------

    @abstractmethod
    def _open(self) -> None:
        """Open the underlying link (raise an :class:`InstrumentError` on failure)."""

    @abstractmethod
    def _close_link(self) -> None:
        """Close the underlying link, ignoring errors of an already-dead link."""

    @abstractmethod
    def _send(self, command: str) -> None:
        """Write one command (the write termination is added here)."""

    @abstractmethod
    def _receive(self) -> str:
        """Read one reply line without its termination."""

    @abstractmethod
    def _translate(self, exc: Exception, command: str) -> InstrumentError | None:
        """Map a wire library's exception to a typed error, or None if it is not a wire error."""

    # -- public API ------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._connected and not self._closed

    def write(self, command: str, *, idempotent: bool = False) -> None:
        """Send ``command``; re-sent after a link failure only when ``idempotent`` is True."""
        self._run(command, lambda: self._exchange(command, False), idempotent)

    def query(
        self,
        command: str,
        parse: Callable[[str], T] | None = None,
        *,
        idempotent: bool = True,
    ) -> T | str:
        """Send ``command`` and return its reply, parsed by ``parse`` if given.

        A reply that ``parse`` rejects (ValueError) is a :class:`GarbledReply`; a garbled reply,
        timeout or lost link is retried with backoff when the query is ``idempotent``.
        """

        def attempt() -> T | str:
            reply = self._exchange(command, True)
            if parse is None:
                return reply
            try:
                return parse(reply)
            except (ValueError, IndexError, TypeError):
                raise GarbledReply(self.instrument, command, reply) from None

        return self._run(command, attempt, idempotent)

    def verified_write(self, command: str, confirm: Callable[[], bool], what: str) -> None:
        """Safety-critical write: send, then ``confirm()``; repeat until confirmed or out of tries.

        Raises :class:`SafetyWriteFailed` (naming ``what`` and the last cause) if the state
        could not be confirmed after ``retry.attempts`` rounds, reconnecting between rounds.
        """
        last: Exception | None = None
        with self.lock:
            for failures in range(self.retry.attempts):
                if failures:
                    self.clock.sleep(self.retry.delay(failures))
                try:
                    self.write(command, idempotent=True)
                    if confirm():
                        return
                    last = None
                except InstrumentError as exc:
                    last = exc
                    log.warning("%s: safety write %r failed: %s", self.instrument, command, exc)
            cause = f"last error: {last}" if last else "the instrument did not confirm it"
            raise SafetyWriteFailed(
                self.instrument,
                f"{what} ({command!r}) FAILED after {self.retry.attempts} attempts; {cause}",
            ) from last

    def reconnect(self) -> None:
        """Close and reopen the link (any unread reply on the old link is discarded)."""
        with self.lock:
            if self._closed:
                raise ConnectionLost(self.instrument, f"transport to {self.resource} is closed")
            self._disconnect()
            self._connect()
            self.reconnects += 1

    def close(self) -> None:
        """Release the link; safe to call twice."""
        with self.lock:
            if self._closed:
                return
            self._closed = True
            self._disconnect()
        _OPEN.discard(self)
        log.debug("%s: closed %s", self.instrument, self.resource)

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------------

    def _connect(self) -> None:
        self._open()
        self._connected = True
        log.debug("%s: connected to %s", self.instrument, self.resource)

    def _disconnect(self) -> None:
        if self._connected:
            self._connected = False
            self._close_link()

    def _exchange(self, command: str, reply: bool) -> str:
        """One write (and read); wire errors become typed errors. Caller holds the lock."""
        if self._closed:
            raise ConnectionLost(self.instrument, f"transport to {self.resource} is closed")
        if not self._connected:
            self._connect()
            self.reconnects += 1
        debug = log.isEnabledFor(logging.DEBUG)
        try:
            if debug:
                log.debug("%s t=%.6f >> %s", self.instrument, self.clock.now(), command)
            self._send(command)
            if not reply:
                return ""
            text = self._receive()
            if debug:
                log.debug("%s t=%.6f << %s", self.instrument, self.clock.now(), text)
            return text
        except Exception as exc:
            self._raise_typed(exc, command)
            raise

    def _raise_typed(self, exc: Exception, command: str) -> None:
        """Raise the typed InstrumentError for a wire exception, if it has one."""
        if not isinstance(exc, InstrumentError):
            typed = self._translate(exc, command)
            if typed is not None:
                raise typed from exc

    def _run(self, command: str, attempt: Callable[[], T], idempotent: bool) -> T:
        """Run ``attempt`` under the lock with the retry policy (idempotent operations only)."""
        tries = self.retry.attempts if idempotent else 1
        with self.lock:
            if self._closed:
                raise ConnectionLost(self.instrument, f"transport to {self.resource} is closed")
            for failures in range(tries):
                if failures:
                    self.clock.sleep(self.retry.delay(failures))
                try:
                    return attempt()
                except (*_LINK_ERRORS, GarbledReply) as exc:
                    if isinstance(exc, _LINK_ERRORS):
                        # a late reply or a dead link must not leak into the next exchange
                        self._drop_link()
                    if failures + 1 >= tries:
                        raise
                    log.warning(
                        "%s: %s on %r, retry %d/%d",
                        self.instrument,
                        type(exc).__name__,
                        command,
                        failures + 1,
                        tries - 1,
                    )
        raise AssertionError("unreachable")  # pragma: no cover

    def _drop_link(self) -> None:
        with contextlib.suppress(Exception):
            self._disconnect()


def _resource_manager(backend: str | None):
    """pyvisa ResourceManager: the system VISA library, falling back to pyvisa-py ("@py")."""
    import pyvisa

    if backend:
        return pyvisa.ResourceManager(backend)
    try:
        return pyvisa.ResourceManager()
    except (OSError, ValueError) as exc:
        log.debug("no system VISA library (%s); using pyvisa-py", exc)
        return pyvisa.ResourceManager("@py")


class VisaTransport(Transport):
    """SCPI over VISA (pyvisa): TCPIP SOCKET/INSTR, USB, GPIB, ASRL resources.

    ``backend`` forces a pyvisa backend (e.g. "@py"); by default the system library is tried
    first and pyvisa-py is used when none is installed.
    """

    def __init__(
        self,
        instrument: str,
        resource: str,
        *,
        backend: str | None = None,
        encoding: str = "ascii",
        chunk_size: int = 1 << 20,
        **kwargs,
    ) -> None:
        self.backend = backend
        self.encoding = encoding
        self.chunk_size = chunk_size
        self._rm = None
        self._res = None
        super().__init__(instrument, resource, **kwargs)

    def _open(self) -> None:
        import pyvisa

        try:
            if self._rm is None:
                self._rm = _resource_manager(self.backend)
            self._res = self._rm.open_resource(
                self.resource,
                read_termination=self.read_termination,
                write_termination=self.write_termination,
                timeout=int(round(self.timeout_s * 1000)),
                encoding=self.encoding,
                chunk_size=self.chunk_size,
            )
        except pyvisa.errors.VisaIOError as exc:
            raise ConnectionLost(
                self.instrument, f"cannot open {self.resource}: {exc.description}"
            ) from exc
        except (OSError, ValueError) as exc:
            raise ConnectionLost(self.instrument, f"cannot open {self.resource}: {exc}") from exc
        if self.resource.upper().endswith("::SOCKET"):
            self._disable_nagle()

    def _disable_nagle(self) -> None:
        """Send each command at once: with Nagle, a write followed by a query waits ~40 ms
        for the delayed ACK of the write, which would slow every safety-critical output off."""
        sessions = getattr(self._res.visalib, "sessions", {})  # pyvisa-py keeps its sockets here
        sock = getattr(sessions.get(self._res.session), "interface", None)
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _close_link(self) -> None:
        res, self._res = self._res, None
        if res is not None:
            with contextlib.suppress(Exception):
                res.close()

    def _send(self, command: str) -> None:
        self._res.write(command)

    def _receive(self) -> str:
        return self._res.read()

    def _translate(self, exc: Exception, command: str) -> InstrumentError | None:
        import pyvisa
        from pyvisa import constants

        if isinstance(exc, pyvisa.errors.VisaIOError):
            if exc.error_code == constants.VI_ERROR_TMO:
                if self._peer_closed():
                    return ConnectionLost(
                        self.instrument, f"{self.resource} closed the connection during {command!r}"
                    )
                return InstrumentTimeout(
                    self.instrument, f"no reply to {command!r} within {self.timeout_s:g} s"
                )
            return ConnectionLost(
                self.instrument, f"I/O error during {command!r}: {exc.description}"
            )
        if isinstance(exc, pyvisa.errors.InvalidSession | OSError):
            return ConnectionLost(self.instrument, f"link failed during {command!r}: {exc}")
        if isinstance(exc, UnicodeDecodeError):
            return GarbledReply(self.instrument, command, exc.object)
        return None

    def _peer_closed(self) -> bool:
        """Best effort: has the far end of a pyvisa-py TCP socket session hung up?"""
        import select
        import socket

        try:
            sock = self._rm.visalib.sessions[self._res.session].interface
            if not isinstance(sock, socket.socket):
                return False
            readable, _, _ = select.select([sock], [], [], 0)
            return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
        except Exception:
            return False
