"""Motorised screw actuator client speaking the Zaber ASCII protocol over a serial link."""

from __future__ import annotations

from dataclasses import dataclass

from drivers.errors import InstrumentReportedError
from drivers.serial_transport import SerialTransport


@dataclass(frozen=True)
class ZaberReply:
    """``@01 1 OK IDLE -- 1234``: address, axis, flag (OK/RJ), status, warning flag, data."""

    address: int
    axis: int
    flag: str
    status: str
    warning: str
    data: str

    @property
    def busy(self) -> bool:
        return self.status == "BUSY"


def parse_reply(line: str) -> ZaberReply:
    """Parse one Zaber ASCII reply line; ValueError if it is not one."""
    fields = line.strip().split(" ", 5)
    if len(fields) < 5 or not fields[0].startswith("@"):
        raise ValueError(f"not a Zaber reply: {line!r}")
    if fields[2] not in ("OK", "RJ") or fields[3] not in ("IDLE", "BUSY"):
        raise ValueError(f"bad flag/status in {line!r}")
    if len(fields[4]) != 2 or not (fields[4] == "--" or fields[4].isalpha()):
        raise ValueError(f"bad warning flag in {line!r}")
    return ZaberReply(
        int(fields[0][1:]),
        int(fields[1]),
        fields[2],
        fields[3],
        fields[4],
        fields[5] if len(fields) > 5 else "",
    )


class ScrewActuator:
    """One axis of a Zaber-protocol stepper stage; positions in (micro)steps."""

    read_termination = "\r\n"
    write_termination = "\n"

    def __init__(self, name: str, transport: SerialTransport, address: int = 1, axis: int = 1):
        self.name = name
        self.transport = transport
        self.address = address
        self.axis = axis

    def command(self, text: str, *, idempotent: bool, axis: int | None = None) -> ZaberReply:
        """Send ``text`` to the axis (0: the device); a rejection or fault flag ``F*`` raises."""
        command = f"/{self.address} {self.axis if axis is None else axis} {text}".rstrip()

        def parse(line: str) -> ZaberReply:
            reply = parse_reply(line)
            if reply.address != self.address:
                raise ValueError(f"reply from device {reply.address}, expected {self.address}")
            if reply.flag == "RJ":
                raise InstrumentReportedError(self.name, 1, f"rejected: {reply.data}", command)
            if reply.warning.startswith("F"):
                raise InstrumentReportedError(self.name, 2, f"fault flag {reply.warning}", command)
            return reply

        return self.transport.query(command, parse, idempotent=idempotent)

    def get(self, setting: str, axis: int | None = None) -> str:
        return self.command(f"get {setting}", idempotent=True, axis=axis).data

    def position(self) -> int:
        return int(self.get("pos"))

    def limits(self) -> tuple[int, int]:
        return int(self.get("limit.min")), int(self.get("limit.max"))

    def move_abs(self, steps: int) -> ZaberReply:
        """Absolute move: idempotent, so it is safe to retry after a lost reply."""
        return self.command(f"move abs {int(steps)}", idempotent=True)

    def stop(self) -> ZaberReply:
        return self.command("stop", idempotent=True)

    def busy(self) -> bool:
        return self.command("", idempotent=True).busy

    def clear_warnings(self) -> None:
        self.command("warnings clear", idempotent=True)

    def identity(self) -> str:
        device = {key: self.get(key, axis=0) for key in ("deviceid", "system.serial", "version")}
        return (
            f"Zaber-protocol actuator deviceid {device['deviceid']}, "
            f"serial {device['system.serial']}, fw {device['version']}"
        )
