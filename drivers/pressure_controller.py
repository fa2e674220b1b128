"""Integrated stack-pressure controller (Alicat-style unit-id ASCII protocol over serial).

The controller regulates force itself; the driver validates setpoints against the device's
maximum and the station's ``max_pressure``, verifies every setpoint by reading it back from the
data frame, watches the frame for error codes and a frozen reading, and releases the load with
a verified, retried safety write. Protocol: ``docs/instruments/pressure_controller.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from daq.clock import Clock
from drivers.errors import InstrumentError, InstrumentReportedError
from drivers.pressure_rig import ForceLimitExceeded, SensorFault
from drivers.roles import PressureReading, PressureRig
from drivers.serial_transport import SerialTransport, open_serial
from drivers.settings import SERIAL, DriverSettings, Setting
from drivers.validators import InRange, check

ERROR_CODES = {
    7: "overload: force above the controller's rating, regulation stopped",
    8: "constant gap: the pressure rose past the rise limit, load released",
}
GAP_TRIPPED = 8
MODES = ("REG", "HLD", "GAP", "EXH")


@dataclass(frozen=True)
class ControllerFrame:
    """One data frame: force N, pressure Pa, setpoint Pa, position m, mode, error code."""

    force: float
    pressure: float
    setpoint: float
    position: float
    mode: str
    error: int = 0


def parse_frame(line: str, unit_id: str = "A") -> ControllerFrame:
    """``A +0000100.00 +001.000 +001.000 +0000.0100 REG [E07]`` -> ControllerFrame."""
    fields = line.split()
    if len(fields) not in (6, 7) or fields[0] != unit_id or fields[5] not in MODES:
        raise ValueError(f"not a data frame of unit {unit_id}: {line!r}")
    values = [float(f) for f in fields[1:5]]
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"non-finite value in {line!r}")
    error = 0
    if len(fields) == 7:
        if not (fields[6].startswith("E") and fields[6][1:].isdigit()):
            raise ValueError(f"bad error field in {line!r}")
        error = int(fields[6][1:])
    force, p_mpa, sp_mpa, pos_mm = values
    return ControllerFrame(force, p_mpa * 1e6, sp_mpa * 1e6, pos_mm * 1e-3, fields[5], error)


#: station-file settings schema (checked by the station check and at open)
SETTINGS: dict[str, Setting] = {
    "max_pressure": Setting("pressure", required=True, low=0, example="'30 MPa'"),
    "tolerance": Setting("pressure", low=0),
    "settle_time": Setting("time", low=0),
    "unit_id": Setting(type=str),
    "stuck_readings": Setting(type=int),
    "release_timeout": Setting("time", low=0),
    **SERIAL,
}


class PressureControllerRig(PressureRig):
    """PressureRig on an integrated controller; ``service()`` polls and tracks settling."""

    read_termination = "\r"
    write_termination = "\r"

    def __init__(
        self, name: str, transport: SerialTransport, settings: DriverSettings, clock: Clock
    ):
        super().__init__(name)
        self.transport = transport
        self.clock = clock
        self.unit = str(settings.get("unit_id", "A")).upper()
        self._area = self._query_number("AREA") * 1e-4
        self.device_max = self._query_number("MAX") * 1e6
        self.max_pressure = min(
            settings.quantity("max_pressure", "pressure", None), self.device_max
        )
        self.tolerance = settings.quantity("tolerance", "pressure", 0.05e6)
        self.settle_time = settings.quantity("settle_time", "time", 2.0)
        self.release_timeout = settings.quantity("release_timeout", "time", 60.0)
        self.stuck_readings = int(settings.number("stuck_readings", 8))
        self._last_line = ""
        self._same = 0
        self._settled_since: float | None = None
        self._fault: str | None = None  # latched SensorFault message
        self.frame = self._frame("")

    # -- wire -------------------------------------------------------------------------------------
    def _query_number(self, key: str) -> float:
        command = f"{self.unit}{key}"

        def parse(line: str) -> float:
            head, word, value = line.split()
            if head != self.unit or word != key:
                raise ValueError(line)
            return float(value)

        return self.transport.query(command, parse)

    def _frame(self, body: str, errors: bool = True) -> ControllerFrame:
        """Send ``body`` (absolute, idempotent commands only) and parse the data frame; an
        error code in it raises (unless ``errors`` is False: a release works whatever it says)."""
        command = f"{self.unit}{body}"

        def parse(line: str) -> ControllerFrame:
            if line.strip() == "?":
                raise InstrumentReportedError(self.name, 0, "command not understood", command)
            frame = parse_frame(line, self.unit)
            if frame.error == GAP_TRIPPED and errors:
                raise ForceLimitExceeded(self.name, f"pressure {frame.pressure / 1e6:.3f} MPa rose "
                                         "past the constant-gap limit; the controller released "
                                         "the load")  # fmt: skip
            if frame.error and errors:
                text = ERROR_CODES.get(frame.error, "controller error")
                raise InstrumentReportedError(self.name, frame.error, text, command)
            self._same = self._same + 1 if line == self._last_line else 0
            self._last_line = line
            return frame

        self.frame = self.transport.query(command, parse)
        return self.frame

    # -- Instrument ---------------------------------------------------------------------------------
    @property
    def cell_area(self) -> float:
        return self._area

    def identity(self) -> str:
        return self.transport.query(f"{self.unit}??M*")

    def settings_snapshot(self) -> dict[str, Any]:
        return {
            "unit_id": self.unit,
            "area_m2": self._area,
            "device_max_pressure_Pa": self.device_max,
            "max_pressure_Pa": self.max_pressure,
            "tolerance_Pa": self.tolerance,
            "settle_time_s": self.settle_time,
            "setpoint_Pa": self.frame.setpoint,
            "mode": self.frame.mode,
        }

    def safe_state(self) -> None:
        self.release()

    def close(self) -> None:
        self.transport.close()

    # -- setpoints ----------------------------------------------------------------------------------
    def set_pressure(self, pressure: float, rate: float | None = None) -> None:
        check(
            self.name,
            "pressure",
            pressure,
            InRange(0.0, self.max_pressure, "Pa", "controller and station maximum"),
        )
        if rate is not None:
            check(self.name, "rate", rate, InRange(1.0, 100e6, "Pa/s", "controller ramp range"))
            self._set_ramp(rate)
        frame = self._frame(f"S {pressure / 1e6:.6f}")
        if abs(frame.setpoint - pressure) > 1e3 + 1e-6 * pressure or frame.mode != "REG":
            raise InstrumentError(
                self.name, f"setpoint {pressure:.0f} Pa not taken: frame shows {frame}"
            )
        self._settled_since = None
        self._fault = None

    def set_force(self, force: float, rate: float | None = None) -> None:
        check(
            self.name,
            "force",
            force,
            InRange(0.0, self.max_pressure * self._area, "N", "controller and station maximum"),
        )
        if rate is not None:
            check(
                self.name,
                "rate",
                rate,
                InRange(1.0 * self._area, 100e6 * self._area, "N/s", "controller ramp range"),
            )
        self.set_pressure(force / self._area, None if rate is None else rate / self._area)

    def _set_ramp(self, rate: float) -> None:
        command = f"{self.unit}SR {rate / 1e6:.6f}"
        reply = self.transport.query(command)
        if (
            reply.split()[:2] != [self.unit, "SR"]
            or abs(float(reply.split()[2]) * 1e6 - rate) > 1e-6 * rate + 0.5
        ):
            raise InstrumentError(self.name, f"ramp rate not taken: {reply!r} to {command!r}")

    def clear_error(self) -> None:
        """Clear a latched controller error code (e.g. after an overload); mode stays HLD."""
        self.transport.query(f"{self.unit}CE")
        self._frame("")

    def hold_position(self) -> None:
        self._frame("HP")
        self._settled_since = None

    def hold_gap(self, max_rise: float | None = None) -> None:
        """Constant gap on the controller itself (``GP``): it holds the actuator and releases the
        load (error E08, raised as ForceLimitExceeded by the next poll) once the pressure rises
        more than ``max_rise`` Pa above the present one. Verified: mode GAP, and the frame's
        setpoint field shows the trip pressure."""
        if max_rise is not None:
            check(self.name, "max_rise", max_rise,
                  InRange(0.0, self.max_pressure, "Pa", "controller and station maximum"))  # fmt: skip
        before = self._frame("").pressure
        frame = self._frame("GP" if max_rise is None else f"GP {max_rise / 1e6:.6f}")
        trip = self.device_max if max_rise is None else min(before + max_rise, self.device_max)
        if frame.mode != "GAP" or abs(frame.setpoint - trip) > 0.01e6 + 1e-3 * trip:
            raise InstrumentError(
                self.name, f"constant gap (trip at {trip:.0f} Pa) not taken: frame shows {frame}"
            )
        self._settled_since = None
        self._fault = None

    def release(self) -> None:
        """Exhaust to zero load: verified (released and back at zero position), retried, loud."""
        self.transport.verified_write(f"{self.unit}EX", self._released, "release the stack load")
        self._settled_since = None

    def _released(self) -> bool:
        deadline = self.clock.now() + self.release_timeout
        while True:
            frame = self._frame("", errors=False)
            if frame.mode == "EXH" and frame.position <= 0.0:
                return True
            if self.clock.now() >= deadline or frame.mode != "EXH":
                return False
            self.clock.sleep(0.1)

    # -- readings -----------------------------------------------------------------------------------
    def read(self) -> PressureReading:
        f = self._frame("")
        return PressureReading(force=f.force, pressure=f.pressure, position=f.position)

    def service(self) -> None:
        """Poll the controller: error codes raise; a frozen frame while regulating raises."""
        frame = self._frame("")
        if self._fault is not None:
            raise SensorFault(self.name, self._fault)
        if frame.mode == "REG" and self._same >= self.stuck_readings:
            self.hold_position()
            self._fault = (
                f"data frame {self._last_line!r} frozen for {self._same + 1} polls; holding"
            )
            raise SensorFault(self.name, self._fault)
        within = frame.mode == "REG" and abs(frame.pressure - frame.setpoint) <= self.tolerance
        if not within:
            self._settled_since = None
        elif self._settled_since is None:
            self._settled_since = self.clock.now()

    @property
    def settled(self) -> bool:
        if self._fault is not None:  # latched until the next setpoint (see SensorFault)
            raise SensorFault(self.name, self._fault)
        return (
            self._settled_since is not None
            and self.clock.now() - self._settled_since >= self.settle_time
        )


def open_pressure_controller(name: str, resource: str, settings: dict[str, Any], clock: Clock):
    """Factory for station files: ``resource`` is a serial port, pty or ``socket://`` URL."""
    s = DriverSettings(name, settings, SETTINGS)
    transport = open_serial(
        name, resource, s.raw, clock, read_termination="\r", write_termination="\r", baudrate=19200
    )
    try:
        return PressureControllerRig(name, transport, s, clock)
    except BaseException:
        transport.close()
        raise
