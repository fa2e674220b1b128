"""Serial transport (pyserial): device ports, ``socket://host:port`` and pseudo-terminals.

A :class:`~drivers.transport.Transport` that moves bytes with pyserial, so the lock, I/O log,
idempotent-only retries, reconnect and verified safety writes come from the base class. Lines
are framed by the configured terminations; a read that does not see the read termination
within the timeout (wall time spent listening, so a stall of this process is not counted
against the instrument) is an :class:`~drivers.errors.InstrumentTimeout`. Stale input is discarded
before every command so a late reply can never be taken for the answer to the next one.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any, TypeVar

import serial

from drivers.errors import ConnectionLost, GarbledReply, InstrumentError, InstrumentTimeout
from drivers.transport import RetryPolicy, Transport

T = TypeVar("T")

#: longest single blocking read; the reply deadline is checked between reads
READ_SLICE_S = 0.05

#: poll period of :meth:`SerialTransport.read_streamed` while nothing has arrived
STREAM_POLL_S = 0.002

PARITIES = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}


def serial_url(resource: str) -> str:
    """pyserial URL for ``resource``: a port path, ``COM3``, ``socket://...`` or ``ASRL...::INSTR``."""
    text = resource.strip()
    if text.upper().startswith("ASRL") and text.upper().endswith("::INSTR"):
        text = text[4:-7]  # VISA-style serial resource -> the port name itself
    if not text:
        raise ValueError(f"empty serial resource {resource!r}")
    return text


class SerialTransport(Transport):
    """Line channel over pyserial; ``resource`` is a port, ``socket://`` URL or pty path."""

    def __init__(
        self,
        instrument: str,
        resource: str,
        *,
        baudrate: int = 9600,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: float = 1,
        encoding: str = "ascii",
        **kwargs: Any,
    ) -> None:
        if parity.upper() not in PARITIES:
            raise ValueError(f"{instrument}: parity must be one of N, E, O, got {parity!r}")
        self.url = serial_url(resource)
        self.baudrate = int(baudrate)
        self.bytesize = int(bytesize)
        self.parity = PARITIES[parity.upper()]
        self.stopbits = stopbits
        self.encoding = encoding
        self._port: serial.SerialBase | None = None
        self._buffer = b""
        super().__init__(instrument, resource, **kwargs)

    # -- byte movers ----------------------------------------------------------------------------

    def _open(self) -> None:
        try:
            self._port = serial.serial_for_url(
                self.url,
                baudrate=self.baudrate,
                bytesize=self.bytesize,
                parity=self.parity,
                stopbits=self.stopbits,
                timeout=min(self.timeout_s, READ_SLICE_S),
                write_timeout=self.timeout_s,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ConnectionLost(self.instrument, f"cannot open {self.resource}: {exc}") from exc
        self._buffer = b""
        with contextlib.suppress(serial.SerialException, OSError):
            self._port.reset_input_buffer()

    def _close_link(self) -> None:
        port, self._port = self._port, None
        self._buffer = b""
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()

    def _send(self, command: str) -> None:
        self._buffer = b""
        self._port.reset_input_buffer()
        self._port.write((command + self.write_termination).encode(self.encoding))
        self._port.flush()

    def _receive(self) -> str:
        """One line up to the read termination, within ``timeout_s`` of wall time spent
        listening: a stretch in which this process did not run (another thread held the GIL,
        e.g. an HDF5 flush, or the host was overloaded) counts as one read slice, not as
        instrument silence, so a host stall cannot turn a prompt reply into a timeout."""
        term = self.read_termination.encode(self.encoding)
        listened = 0.0
        last = time.monotonic()
        while term not in self._buffer:
            if listened >= self.timeout_s:
                raise InstrumentTimeout(
                    self.instrument,
                    f"no complete reply within {self.timeout_s:g} s (got {self._buffer!r})",
                )
            chunk = self._port.read(max(1, self._port.in_waiting))  # waits <= READ_SLICE_S
            self._buffer += chunk
            now = time.monotonic()
            listened += min(now - last, READ_SLICE_S)
            last = now
        line, _, self._buffer = self._buffer.partition(term)
        try:
            return line.decode(self.encoding)
        except UnicodeDecodeError:
            raise GarbledReply(self.instrument, "<read>", line) from None

    def _translate(self, exc: Exception, command: str) -> InstrumentError | None:
        if isinstance(exc, serial.SerialTimeoutException):
            return InstrumentTimeout(self.instrument, f"write of {command!r} timed out")
        if isinstance(exc, serial.SerialException | OSError):
            return ConnectionLost(self.instrument, f"link failed during {command!r}: {exc}")
        if isinstance(exc, UnicodeDecodeError):
            return GarbledReply(self.instrument, command, exc.object)
        return None

    # -- streamed output ---------------------------------------------------------------------

    def read_streamed(self, wait_s: float) -> str | None:
        """One line the instrument sends on its own (a running measurement's data) within
        ``wait_s`` wall seconds, or None; nothing is sent, link failures are typed errors."""
        term = self.read_termination.encode(self.encoding)
        with self.lock:
            if self._closed or not self._connected or self._port is None:
                raise ConnectionLost(self.instrument, f"no open link to {self.resource}")
            deadline = time.monotonic() + wait_s
            try:
                while term not in self._buffer:
                    waiting = self._port.in_waiting
                    if waiting:
                        self._buffer += self._port.read(waiting)
                        continue
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    time.sleep(min(STREAM_POLL_S, remaining))
            except Exception as exc:
                self._drop_link()
                self._raise_typed(exc, "<streamed data>")
                raise
            line, _, self._buffer = self._buffer.partition(term)
        try:
            return line.decode(self.encoding)
        except UnicodeDecodeError:
            raise GarbledReply(self.instrument, "<streamed data>", line) from None

    # -- multi-line replies ---------------------------------------------------------------------

    def query_lines(
        self,
        command: str,
        done: Callable[[str], bool],
        parse: Callable[[list[str]], T] | None = None,
        *,
        idempotent: bool = True,
    ) -> T | list[str]:
        """Send ``command`` and read reply lines until ``done(line)`` (that line included).

        Same retry and error rules as :meth:`query`; ``parse`` gets the list of lines.
        """

        def attempt() -> T | list[str]:
            lines = [self._exchange(command, True)]
            while not done(lines[-1]):
                try:
                    lines.append(self._receive())
                except Exception as exc:
                    self._raise_typed(exc, command)
                    raise
            if parse is None:
                return lines
            try:
                return parse(lines)
            except (ValueError, IndexError, TypeError):
                raise GarbledReply(self.instrument, command, "\n".join(lines)) from None

        return self._run(command, attempt, idempotent)


#: station-file keys understood by :func:`open_serial` (``timeout`` is a time quantity)
SERIAL_KEYS = ("baudrate", "bytesize", "parity", "stopbits", "timeout", "retries")


def open_serial(
    instrument: str,
    resource: str,
    settings: dict[str, Any],
    clock: Any,
    *,
    read_termination: str,
    write_termination: str,
    baudrate: int = 9600,
    timeout_s: float = 1.0,
) -> SerialTransport:
    """A SerialTransport configured from the ``serial`` keys of a station ``settings`` dict
    (checked and parsed against :data:`drivers.settings.SERIAL`, the one declaration)."""
    from drivers.settings import SERIAL, parse_settings

    given = {key: settings[key] for key in SERIAL_KEYS if key in settings}
    values = parse_settings(instrument, SERIAL, given)
    timeout_s = timeout_s if values["timeout"] is None else values["timeout"]
    retries = 2 if values["retries"] is None else values["retries"]
    return SerialTransport(
        instrument,
        resource,
        baudrate=values["baudrate"] or baudrate,
        bytesize=values["bytesize"] or 8,
        parity=values["parity"] or "N",
        stopbits=values["stopbits"] or 1,
        timeout_s=timeout_s,
        read_termination=read_termination,
        write_termination=write_termination,
        retry=RetryPolicy(attempts=retries + 1),
        clock=clock,
    )
