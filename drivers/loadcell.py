"""Load-cell indicator client (Mark-10 Gauge Control Language 2 subset) over a serial link."""

from __future__ import annotations

import re

from drivers.errors import InstrumentReportedError
from drivers.serial_transport import SerialTransport

#: force units the indicator may report, in newtons
FORCE_UNITS = {"N": 1.0, "LBF": 4.4482216152605, "KGF": 9.80665, "KN": 1000.0}

#: GCL2 error codes
ERROR_CODES = {
    10: "illegal command",
    11: "not applicable",
    12: "invalid specifier",
    22: "value too large",
}

_READING = re.compile(r"^\s*([+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)\s+([A-Za-z]+)\s*$")
_ERROR = re.compile(r"^\*(\d+)")


def check_error(instrument: str, command: str, reply: str) -> str:
    """``reply`` unchanged, or InstrumentReportedError for a ``*NN`` error code."""
    match = _ERROR.match(reply.strip())
    if match:
        code = int(match.group(1))
        raise InstrumentReportedError(instrument, code, ERROR_CODES.get(code, "error"), command)
    return reply


def parse_force(reply: str) -> float:
    """A reading such as ``"-18.78 lbF"`` in newtons; ValueError if it is not one."""
    match = _READING.match(reply)
    if not match:
        raise ValueError(f"not a force reading: {reply!r}")
    unit = match.group(2).upper()
    if unit not in FORCE_UNITS:
        raise ValueError(f"unknown force unit {match.group(2)!r}")
    return float(match.group(1)) * FORCE_UNITS[unit]


class LoadCellIndicator:
    """Force readings in N from a Mark-10-style indicator (terminations CR out, CR LF in)."""

    read_termination = "\r\n"
    write_termination = "\r"

    def __init__(self, name: str, transport: SerialTransport) -> None:
        self.name = name
        self.transport = transport
        self.last_reply = ""

    def _ack(self, command: str) -> None:
        """Send a setting command; anything but the ``R`` acknowledgement is garbled."""

        def parse(reply: str) -> str:
            if check_error(self.name, command, reply).strip() != "R":
                raise ValueError(reply)
            return reply

        self.transport.query(command, parse)

    def configure(self) -> None:
        """Report readings in newtons."""
        self._ack("N")

    def identity(self) -> str:
        parts = [
            self.transport.query(c, lambda r, c=c: check_error(self.name, c, r))
            for c in ("RN", "RM", "RS", "RV")
        ]
        return ", ".join(p.strip() for p in parts)

    def force(self) -> float:
        """Present force in N (compression positive)."""

        def parse(reply: str) -> float:
            self.last_reply = check_error(self.name, "?C", reply)
            return parse_force(reply)

        return self.transport.query("?C", parse)
