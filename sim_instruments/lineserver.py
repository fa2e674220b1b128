"""Serve a line-oriented emulated device over TCP (loopback only) or a pseudo-terminal.

A device implements :class:`LineDevice`: it gets one command line and returns the reply text
(or ``None`` for commands without a reply). The server frames lines, applies transport faults
from the device's :class:`~sim_instruments.faults.FaultInjector` and hands device faults back
to the device. pyvisa-py reaches the TCP form as ``TCPIP0::127.0.0.1::<port>::SOCKET``;
pyserial reaches it as ``socket://127.0.0.1:<port>`` or the pty path as a serial port.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
import time
import tty
from abc import ABC, abstractmethod

from sim_instruments.faults import TRANSPORT_FAULTS, Fault, FaultInjector, FaultKind

log = logging.getLogger(__name__)


class LineDevice(ABC):
    """An emulated instrument speaking a line protocol."""

    #: bytes that end a command line from the host
    read_termination: bytes = b"\n"
    #: bytes appended to every reply
    write_termination: bytes = b"\n"
    #: text encoding on the wire
    encoding: str = "ascii"
    #: empty lines are commands too (MethodSCRIPT ends a script with one); default: ignored
    keep_blank_lines: bool = False
    #: wall seconds between :meth:`pending_output` polls while idle (devices that stream)
    poll_s: float = 0.2

    def __init__(self, faults: FaultInjector | None = None) -> None:
        self.faults = faults or FaultInjector()
        self.lock = threading.RLock()

    @abstractmethod
    def handle(self, command: str) -> str | None:
        """Execute one command; return the reply text, or None when there is none."""

    def apply_fault(self, fault: Fault, command: str, reply: str | None) -> str | None:
        """Apply a device fault (error, stuck, spike) to the reply; default: report an error."""
        return reply

    def before_fault(self, fault: Fault, command: str) -> None:
        """Device-fault hook run before ``command`` executes (e.g. queue an error that a
        query later on the same line must see); default: nothing."""
        return None

    def pending_output(self) -> tuple[bytes | None, bool]:
        """Output the device produced on its own since the last poll (streamed measurement
        data), and whether to drop the link; default: nothing."""
        return None, False

    def respond(self, command: str) -> tuple[bytes | None, bool]:
        """Full handling of one line: (bytes to send or None, whether to drop the link)."""
        fault = self.faults.check(command)
        with self.lock:
            if fault is not None and fault.kind not in TRANSPORT_FAULTS:
                self.before_fault(fault, command)
                reply = self.apply_fault(fault, command, self.handle(command))
            else:
                reply = self.handle(command)
        if fault is None:
            return self._encode(reply), False
        if fault.kind is FaultKind.DROP:
            return None, True
        if fault.kind is FaultKind.TIMEOUT:
            return None, False
        if fault.kind is FaultKind.SLOW:
            time.sleep(fault.delay_s)
        if fault.kind is FaultKind.GARBLE and reply is not None:
            reply = self.faults.garble(reply)
        return self._encode(reply), False

    def _encode(self, reply: str | None) -> bytes | None:
        if reply is None:
            return None
        return reply.encode(self.encoding, errors="replace") + self.write_termination


class _Framer:
    """Splits an incoming byte stream into command lines."""

    def __init__(self, terminator: bytes, keep_blank: bool = False) -> None:
        self.terminator = terminator
        self.keep_blank = keep_blank
        self.buffer = b""

    def feed(self, data: bytes) -> list[str]:
        self.buffer += data
        *lines, self.buffer = self.buffer.split(self.terminator)
        text = [line.decode("latin-1").strip("\r\n ") for line in lines]
        return text if self.keep_blank else [line for line in text if line]


class TcpLineServer:
    """Serve ``device`` on 127.0.0.1; one thread per connection. ``port=0`` picks a free port."""

    def __init__(self, device: LineDevice, port: int = 0, host: str = "127.0.0.1") -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"emulators bind to loopback only, not {host!r}")
        self.device = device
        self._sock = socket.create_server((host, port))
        self._sock.settimeout(0.2)
        self.host, self.port = self._sock.getsockname()[:2]
        self._stop = threading.Event()
        self._conns: set[socket.socket] = set()
        self._thread = threading.Thread(
            target=self._accept_loop, daemon=True, name=f"tcp:{self.port}"
        )
        self._thread.start()

    @property
    def visa_resource(self) -> str:
        return f"TCPIP0::{self.host}::{self.port}::SOCKET"

    @property
    def serial_url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        device = self.device
        framer = _Framer(device.read_termination, device.keep_blank_lines)
        conn.settimeout(device.poll_s)
        try:
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    data = None
                if data == b"":
                    break
                replies = [device.respond(line) for line in framer.feed(data or b"")]
                for out, drop in [*replies, device.pending_output()]:
                    if drop:
                        return
                    if out:
                        conn.sendall(out)
        except OSError as exc:
            log.debug("connection closed: %s", exc)
        finally:
            self._conns.discard(conn)
            conn.close()

    def drop_connections(self) -> None:
        """Close every open client connection (the server keeps listening)."""
        for conn in list(self._conns):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop.set()
        self.drop_connections()
        self._sock.close()
        self._thread.join(timeout=2)


class PtyLineServer:
    """Serve ``device`` on a pseudo-terminal; pyserial opens :attr:`port` like a USB-serial port."""

    def __init__(self, device: LineDevice) -> None:
        self.device = device
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name=f"pty:{self.port}")
        self._thread.start()

    def _loop(self) -> None:
        device = self.device
        framer = _Framer(device.read_termination, device.keep_blank_lines)
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], device.poll_s)
            data = b""
            if ready:
                try:
                    data = os.read(self._master, 65536)
                except OSError:
                    break
            replies = [device.respond(line) for line in framer.feed(data)]
            for out, drop in [*replies, device.pending_output()]:
                if drop:
                    framer.buffer = b""  # a pty cannot hang up; losing the link = silence
                    continue
                if out:
                    os.write(self._master, out)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
