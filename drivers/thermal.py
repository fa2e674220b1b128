"""Temperature controller driver (Lake Shore 335-style ASCII over serial), loop 1 / input A.

Setpoints are validated against the stage's range and the station's limits before anything is
sent, then the event status register (``*ESR?``) is read and the setpoint read back. An
invalid reading (``+0.000`` with a reading-status bit) raises; a reading identical for many
polls in a row while not at the setpoint is reported as a frozen sensor. ``safe_state`` turns
the heater off with a verified, retried write.
"""

from __future__ import annotations

from typing import Any

from daq.clock import Clock
from daq.units import ureg
from drivers.errors import InstrumentError, InstrumentReportedError
from drivers.roles import ThermalController
from drivers.serial_transport import SerialTransport, open_serial
from drivers.settings import SERIAL, DriverSettings, Setting
from drivers.validators import InRange, OneOf, check

ESR_BITS = {32: "command error", 16: "execution error (parameter out of range)", 4: "query error"}
#: the controlled stage's setpoint range (instrument range), K
STAGE_RANGE_K = (200.0, 450.0)
_STAGE = {"low": STAGE_RANGE_K[0], "high": STAGE_RANGE_K[1], "unit": "K"}
#: station-file settings schema (checked by the station check and at open)
SETTINGS: dict[str, Setting] = {
    "min_temperature": Setting("temperature", **_STAGE),
    "max_temperature": Setting("temperature", **_STAGE),
    "ramp_rate": Setting("K/min", low=0.1, high=100.0, unit="K/min"),
    "heater_range": Setting(choices=(1, 2, 3)),
    "tolerance": Setting("temperature", low=0),
    "settle_time": Setting("time", low=0),
    **SERIAL,
}


def parse_temperature(reply: str) -> float:
    """``"+298.150"`` -> 298.15; ValueError for anything else (negative kelvin included)."""
    value = float(reply.strip())
    if not 0.0 <= value < 2000.0:
        raise ValueError(f"not a temperature in K: {reply!r}")
    return value


class SensorFrozen(InstrumentError):
    """The temperature reading stopped changing while the stage should be moving."""


class LakeShoreThermal(ThermalController):
    """ThermalController on a Lake Shore 335-style controller; see the module docstring."""

    read_termination = "\r\n"
    write_termination = "\r\n"

    def __init__(
        self, name: str, transport: SerialTransport, settings: DriverSettings, clock: Clock
    ):
        super().__init__(name)
        self.transport = transport
        self.clock = clock
        low = settings.quantity("min_temperature", "temperature", STAGE_RANGE_K[0])
        high = settings.quantity("max_temperature", "temperature", STAGE_RANGE_K[1])
        self.limits = InRange(low, high, "K", "station limits")
        self.range = InRange(*STAGE_RANGE_K, "K", "stage range")
        self.tolerance = settings.quantity("tolerance", "temperature", 0.5)
        self.settle_time = settings.quantity("settle_time", "time", 60.0)
        self.heater_range = check(
            name, "heater_range", settings.get("heater_range", 2), OneOf((1, 2, 3))
        )
        rate = settings.get("ramp_rate")
        self.ramp_K_per_min = None if rate is None else _rate_K_per_min(name, rate)
        self.setpoint = self.transport.query("SETP? 1", parse_temperature)
        self._stable_since: float | None = None
        self._last_reply = ""
        self._same = 0

    def _write_checked(self, command: str) -> None:
        """Write, then read the event status register; any error bit raises."""
        self.transport.write(command, idempotent=True)
        esr = self.transport.query("*ESR?", int)
        for bit, text in ESR_BITS.items():
            if esr & bit:
                raise InstrumentReportedError(self.name, bit, text, command)

    def configure(self) -> None:
        """Ramp as configured and the heater on its configured range."""
        if self.ramp_K_per_min is not None:
            self._write_checked(f"RAMP 1,1,{self.ramp_K_per_min:.1f}")
        else:
            self._write_checked("RAMP 1,0,10.0")
        self._write_checked(f"RANGE 1,{self.heater_range}")

    # -- Instrument ------------------------------------------------------------------------------
    def identity(self) -> str:
        return self.transport.query("*IDN?")

    def settings_snapshot(self) -> dict[str, Any]:
        return {
            "setpoint_K": self.setpoint,
            "limits_K": [self.limits.low, self.limits.high],
            "ramp_K_per_min": self.ramp_K_per_min,
            "heater_range": self.heater_range,
            "tolerance_K": self.tolerance,
            "settle_time_s": self.settle_time,
        }

    def safe_state(self) -> None:
        """Heater off, verified by reading the range back."""
        self.transport.verified_write(
            "RANGE 1,0", lambda: self.transport.query("RANGE? 1", int) == 0, "heater off"
        )

    def close(self) -> None:
        self.transport.close()

    # -- ThermalController -----------------------------------------------------------------------
    def set_temperature(self, temperature: float) -> None:
        check(self.name, "temperature", temperature, self.range, self.limits)
        self._write_checked(f"SETP 1,{temperature:.3f}")
        echoed = self.transport.query("SETP? 1", parse_temperature)
        if abs(echoed - temperature) > 5e-4:
            raise InstrumentError(self.name, f"setpoint {temperature} K read back as {echoed} K")
        self.setpoint = temperature
        self._stable_since = None

    def read_temperature(self) -> float:
        replies: list[str] = []

        def parse(text: str) -> float:
            replies.append(text)
            return parse_temperature(text)

        value = self.transport.query("KRDG? A", parse)
        reply = replies[-1]
        if value == 0.0:
            status = self.transport.query("RDGST? A", int)
            raise InstrumentReportedError(self.name, status, "invalid sensor reading", "KRDG? A")
        self._same = self._same + 1 if reply == self._last_reply else 0
        self._last_reply = reply
        if self._same >= 10 and abs(value - self.setpoint) > self.tolerance:
            raise SensorFrozen(self.name, f"reading {reply!r} unchanged for {self._same + 1} polls")
        if abs(value - self.setpoint) > self.tolerance:
            self._stable_since = None
        elif self._stable_since is None:
            self._stable_since = self.clock.now()
        return value

    @property
    def stable(self) -> bool:
        return (
            self._stable_since is not None
            and self.clock.now() - self._stable_since >= self.settle_time
        )


def _rate_K_per_min(name: str, text: Any) -> float:
    try:
        q = ureg.Quantity(str(text))
        value = float(q.to("K/min").magnitude)
    except Exception as exc:
        raise ValueError(
            f"{name}.ramp_rate: expected e.g. '5 K/min', got {text!r} ({exc})"
        ) from None
    return check(name, "ramp_rate", value, InRange(0.1, 100.0, "K/min", "controller ramp range"))


def open_thermal_controller(name: str, resource: str, settings: dict[str, Any], clock: Clock):
    """Factory for station files: ``resource`` is a serial port, pty or ``socket://`` URL."""
    s = DriverSettings(name, settings, SETTINGS)
    transport = open_serial(
        name,
        resource,
        s.raw,
        clock,
        read_termination="\r\n",
        write_termination="\r\n",
        baudrate=57600,
    )
    try:
        driver = LakeShoreThermal(name, transport, s, clock)
        driver.configure()
        return driver
    except BaseException:
        transport.close()
        raise
