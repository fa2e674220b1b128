"""TEM/STM biasing holder: ANC300-style piezo controller (serial) + bias SMU (VISA, Keithley).

The piezo axes are open loop, so :meth:`position` is the driver's estimate from the commanded
coarse steps (calibrated ``coarse_step`` at ``step_voltage``) and the fine offset voltage
(``fine_range`` at 150 V), relative to where the probe was when the holder was opened. Every
move is validated against the configured ``travel`` (a box of +/- travel around that start)
before anything is sent. :meth:`approach_until_contact` is a coarse-fine approach (fine sweeps,
then coarse steps into already probed space) that stops on the first current reading at or
above the threshold and never moves beyond ``max_travel``.
:meth:`bias_off` goes through the SMU's verified zero-and-off (retried, loud on failure).
"""

from __future__ import annotations

import math
from typing import Any

from daq.clock import Clock
from drivers.errors import InstrumentReportedError, SetpointError
from drivers.registry import open_driver
from drivers.roles import BiasHolder, BiasReading
from drivers.serial_transport import SERIAL_KEYS, SerialTransport, open_serial
from drivers.settings import SERIAL, DriverSettings, Setting
from drivers.validators import InRange, Integer, OneOf, Symmetric, check

AXES = {"x": 1, "y": 2, "z": 3}
OFFSET_MAX_V = 150.0
#: station-file settings schema (checked by the station check and at open)
SETTINGS: dict[str, Setting] = {
    "travel": Setting("length", low=0),
    "coarse_step": Setting("length", required=True, above=0, example="'50 nm'"),
    "step_voltage": Setting("voltage", low=0),
    "step_frequency": Setting(type=int),
    "fine_range": Setting("length", required=True, above=0, example="'1 um'"),
    "max_bias": Setting("voltage", low=0),
    "max_current": Setting("current", low=0),
    "piezo": Setting(sub=SERIAL),
    "smu": Setting(type=dict),
    "smu_driver": Setting(type=str),
}


class PiezoController:
    """ANC300-style command/reply exchange: value lines, then ``OK`` or a message + ``ERROR``."""

    def __init__(self, name: str, transport: SerialTransport) -> None:
        self.name = name
        self.transport = transport

    def command(self, text: str, *, idempotent: bool) -> list[str]:
        """Lines before ``OK``; a refused command raises InstrumentReportedError."""

        def parse(lines: list[str]) -> list[str]:
            ok, body = parse_reply(lines)
            if not ok:
                raise InstrumentReportedError(self.name, 1, body[-1] if body else "error", text)
            return body

        return self.transport.query_lines(text, is_last_line, parse, idempotent=idempotent)

    def value(self, text: str) -> str:
        """``name = value unit`` -> ``value``."""
        (line,) = self.command(text, idempotent=True)
        return parse_value(line)


def is_last_line(line: str) -> bool:
    """An ANC300 reply ends with ``OK`` or ``ERROR``."""
    return line in ("OK", "ERROR")


def parse_reply(lines: list[str]) -> tuple[bool, list[str]]:
    """(accepted, lines before the status) of one complete reply; ValueError if malformed."""
    if not lines or not is_last_line(lines[-1]) or any(is_last_line(x) for x in lines[:-1]):
        raise ValueError(f"not one ANC300 reply: {lines!r}")
    return lines[-1] == "OK", lines[:-1]


def parse_value(line: str) -> str:
    """``"voltage = 30.000000 V"`` -> ``"30.000000"``; ValueError otherwise."""
    name, sep, rest = line.partition("=")
    if not sep or not name.strip() or not rest.split():
        raise ValueError(f"not a 'name = value' line: {line!r}")
    return rest.split()[0]


class PiezoBiasHolder(BiasHolder):
    """BiasHolder on a piezo controller and an SMU driver (``set_voltage``/``read``/off)."""

    def __init__(
        self, name: str, piezo: PiezoController, smu: Any, s: DriverSettings, clock: Clock
    ):
        super().__init__(name)
        self.piezo = piezo
        self.smu = smu
        self.clock = clock
        length = InRange(1e-12, 1e-2, "m", "holder geometry")
        self.travel = check(name, "travel", s.quantity("travel", "length", 5e-6), length)
        self.step_voltage = s.quantity("step_voltage", "voltage", 30.0)
        check(name, "step_voltage", self.step_voltage, InRange(1.0, 150.0, "V", "ANC300 amplitude"))
        # m per step at step_voltage, and m of fine travel at 150 V (calibrations)
        self.coarse_step = check(
            name, "coarse_step", s.quantity("coarse_step", "length", None), length
        )
        self.fine_range = check(
            name, "fine_range", s.quantity("fine_range", "length", None), length
        )
        self.step_frequency = int(s.number("step_frequency", 100))
        check(name, "step_frequency", self.step_frequency, Integer(1, 10000, "Hz", "ANC300"))
        self.max_bias = s.quantity("max_bias", "voltage", 10.0)
        check(name, "max_bias", self.max_bias, InRange(0.0, 210.0, "V", "bias source"))
        self.max_current = s.quantity("max_current", "current", 1e-6)
        check(name, "max_current", self.max_current, InRange(1e-12, 1.05, "A", "bias source"))
        self._coarse = {axis: 0.0 for axis in AXES}  # m moved by stepping
        self._fine = {axis: 0.0 for axis in AXES}  # m of fine offset
        for axis, n in AXES.items():
            self.piezo.command(f"setm {n} stp+", idempotent=True)
            self.piezo.command(f"setv {n} {self.step_voltage:.3f}", idempotent=True)
            self.piezo.command(f"setf {n} {self.step_frequency}", idempotent=True)
            self.piezo.command(f"seta {n} 0", idempotent=True)
            self._fine[axis] = 0.0

    # -- Instrument ------------------------------------------------------------------------------
    def identity(self) -> str:
        version = self.piezo.command("ver", idempotent=True)[0]
        return f"piezo [{version}, {self.piezo.value('getsn')}] + SMU [{self.smu.identity()}]"

    def settings_snapshot(self) -> dict[str, Any]:
        return {"travel_m": self.travel, "coarse_step_m": self.coarse_step,
                "step_voltage_V": self.step_voltage, "step_frequency_Hz": self.step_frequency,
                "fine_range_m": self.fine_range, "max_bias_V": self.max_bias,
                "max_current_A": self.max_current, "position_m": list(self.position()),
                "smu": self.smu.settings_snapshot()}  # fmt: skip

    def safe_state(self) -> None:
        self.bias_off()

    def close(self) -> None:
        self.piezo.transport.close()
        self.smu.close()

    # -- bias ------------------------------------------------------------------------------------
    def _check_bias(self, voltage: float, current_limit: float) -> None:
        check(self.name, "bias", voltage, Symmetric(self.max_bias, "V", "holder max_bias"))
        check(
            self.name,
            "current_limit",
            current_limit,
            InRange(1e-12, self.max_current, "A", "holder max_current"),
        )

    def set_bias(self, voltage: float, current_limit: float) -> None:
        self._check_bias(voltage, current_limit)
        self.smu.set_voltage(voltage, current_limit)

    def bias_off(self) -> None:
        self.smu.zero_and_off()

    def read(self) -> BiasReading:
        r = self.smu.read()
        return BiasReading(voltage=r.voltage, current=r.current, compliance=r.compliance)

    # -- motion ----------------------------------------------------------------------------------
    def position(self) -> tuple[float, float, float]:
        return tuple(self._coarse[a] + self._fine[a] for a in "xyz")

    def _check_target(self, axis: str, parameter: str, value: float, delta: float) -> None:
        """Refuse ``value`` if the move ``delta`` (m) would leave the configured travel box."""
        here = self._coarse[axis] + self._fine[axis]
        if abs(here + delta) > self.travel * (1 + 1e-9):
            allowed = (
                f"values keeping {axis} within +/-{self.travel:g} m of the start "
                f"(now at {here:g} m)"
            )
            raise SetpointError(self.name, parameter, value, allowed)

    def move_coarse(self, axis: str, steps: int) -> None:
        axis = check(self.name, "axis", axis, OneOf(tuple(AXES)))
        check(self.name, "steps", steps, Integer(-100_000, 100_000, "steps", "ANC300"))
        self._check_target(axis, "steps", steps, steps * self.coarse_step)
        verb = "stepu" if steps >= 0 else "stepd"
        self._piezo(axis, f"{verb} {AXES[axis]} {abs(steps)}", idempotent=False)
        self._coarse[axis] += steps * self.coarse_step

    def _piezo(self, axis: str, command: str, *, idempotent: bool) -> None:
        """Send an axis command; on a refusal re-read the axis mode before raising.

        A controller that grounds an axis (e.g. after a short) drops its fine offset, so the
        position estimate must drop it too; the axis then needs ``enable_axis``.
        """
        try:
            self.piezo.command(command, idempotent=idempotent)
        except InstrumentReportedError:
            if self.piezo.value(f"getm {AXES[axis]}") not in ("off", "stp+"):
                self._fine[axis] = 0.0
            raise

    def enable_axis(self, axis: str) -> None:
        """Put ``axis`` back into stepping + offset mode at zero offset (after a fault)."""
        axis = check(self.name, "axis", axis, OneOf(tuple(AXES)))
        self._set_fine(axis, 0.0)
        self.piezo.command(f"setm {AXES[axis]} stp+", idempotent=True)

    def move_fine(self, axis: str, distance: float) -> None:
        axis = check(self.name, "axis", axis, OneOf(tuple(AXES)))
        new = self._fine[axis] + check(
            self.name, "distance", distance, Symmetric(self.fine_range, "m", "fine range")
        )
        check(self.name, "fine offset", new, InRange(0.0, self.fine_range, "m", "piezo fine range"))
        self._check_target(axis, "distance", distance, distance)
        self._set_fine(axis, new)

    def _set_fine(self, axis: str, offset: float) -> None:
        volts = offset / self.fine_range * OFFSET_MAX_V
        self._piezo(axis, f"seta {AXES[axis]} {volts:.6f}", idempotent=True)  # absolute: retry-safe
        self._fine[axis] = offset

    def approach_until_contact(
        self, threshold_current: float, probe_bias: float, step: float, max_travel: float
    ) -> bool:
        """Coarse-fine approach (as in STM practice), never beyond ``max_travel``.

        Sweep the fine offset up in ``step`` increments, reading the current after each; when
        the fine range is used up, withdraw the fine offset and make coarse steps covering no
        more than the distance just probed (no gap is skipped), then sweep again. Stops at the
        first reading with |I| >= ``threshold_current`` (True) or when the next increment would
        pass ``max_travel`` from the start (False).
        """
        check(
            self.name,
            "threshold_current",
            threshold_current,
            InRange(1e-13, self.max_current, "A", "holder max_current"),
        )
        check(self.name, "step", step, InRange(1e-10, self.fine_range, "m", "piezo fine range"))
        room = self.travel - self.position()[2]
        allowed = "m (configured travel left ahead of the probe)"
        if room < step:
            raise SetpointError(self.name, "max_travel", max_travel, f"nothing: {room:g} {allowed}")
        check(self.name, "max_travel", max_travel, InRange(step, room, allowed))
        self.set_bias(probe_bias, min(self.max_current, max(10 * threshold_current, 1e-9)))
        if self._contact(threshold_current):
            return True
        limit = self.position()[2] + max_travel * (1 + 1e-12)
        while True:
            while self._fine["z"] + step <= self.fine_range * (1 + 1e-12):
                if self.position()[2] + step > limit:
                    return False
                self._set_fine("z", self._fine["z"] + step)
                if self._contact(threshold_current):
                    return True
            covered = self._fine["z"]
            ahead = limit - (self._coarse["z"])
            n = math.floor(min(covered, ahead) / self.coarse_step)
            if n == 0:
                return False
            self._set_fine("z", 0.0)  # withdraw first: the coarse steps land in probed space
            self.move_coarse("z", n)

    def _contact(self, threshold_current: float) -> bool:
        return abs(self.read().current) >= threshold_current

    def retract(self, distance: float) -> None:
        check(self.name, "distance", distance, InRange(0.0, 2 * self.travel, "m", "retract"))
        fine_back = min(distance, self._fine["z"])
        if fine_back:
            self._set_fine("z", self._fine["z"] - fine_back)
        rest = distance - fine_back
        if rest > 0:
            self.move_coarse("z", -math.ceil(rest / self.coarse_step))


def open_tem_holder(name: str, resource: Any, settings: dict[str, Any], clock: Clock):
    """Factory: ``resource = {"piezo": serial url, "smu": VISA resource}``."""
    if not isinstance(resource, dict) or set(resource) != {"piezo", "smu"}:
        raise ValueError(f"{name}: resource must map 'piezo' and 'smu', got {resource!r}")
    s = DriverSettings(name, settings, SETTINGS)
    piezo_settings = DriverSettings(f"{name}.piezo", s.get("piezo", {}), SERIAL_KEYS).raw
    transport = open_serial(f"{name}.piezo", resource["piezo"], piezo_settings, clock,
                            read_termination="\r\n", write_termination="\r\n", baudrate=38400)  # fmt: skip
    smu = None
    try:
        smu = open_driver(
            s.get("smu_driver", "keithley2450"),
            f"{name}.smu",
            resource["smu"],
            s.get("smu", {}),
            clock,
        )
        return PiezoBiasHolder(name, PiezoController(f"{name}.piezo", transport), smu, s, clock)
    except BaseException:
        transport.close()
        if smu is not None:
            smu.close()
        raise
