"""Temperature controller emulator: a Lake Shore 335-style ASCII subset over serial/TCP.

Commands and replies end with CR LF. Settings commands have no reply (as on the real
controller); errors set bits of the standard event status register read with ``*ESR?``
(32 = command error, 16 = execution error, e.g. a setpoint outside the stage's range). The
setpoint ramp (``RAMP``) is advanced on the world's clock whenever the controller is talked to.
Protocol: ``docs/instruments/thermal_controller.md``.
"""

from __future__ import annotations

import re
from typing import Any

from sim_instruments.faults import Fault, FaultInjector, FaultKind
from sim_instruments.lineserver import LineDevice
from sim_instruments.stuck import FrozenReading

_SET = re.compile(r"^(SETP|RAMP|RANGE)\s+1\s*,\s*(.+)$")


class ThermalControllerEmulator(LineDevice):
    """Loop 1 drives the world's heater stage; input A reads ``world.thermal_read_K()``."""

    read_termination = b"\n"
    write_termination = b"\r\n"

    def __init__(
        self,
        world: Any,
        faults: FaultInjector | None = None,
        *,
        setpoint_range_K: tuple[float, float] = (200.0, 450.0),
        ambient_K: float = 298.15,
        serial: str = "SIM3350",
    ) -> None:
        super().__init__(faults)
        self.world = world
        self.low, self.high = setpoint_range_K
        self.ambient_K = ambient_K
        self.serial = serial
        self.setpoint_K = ambient_K
        self.active_K = ambient_K  # ramped setpoint the loop is controlling to now
        self.ramp_on = False
        self.ramp_K_per_min = 10.0
        self.heater_range = 0
        self.esr = 0
        self.reading_status = 0
        self._last_t = world.clock.now()
        self._reading = FrozenReading()

    def _advance(self) -> None:
        now = self.world.clock.now()
        dt, self._last_t = now - self._last_t, now
        if self.ramp_on:
            step = self.ramp_K_per_min / 60.0 * dt
            delta = self.setpoint_K - self.active_K
            self.active_K += max(-step, min(step, delta))
        else:
            self.active_K = self.setpoint_K
        self.world.thermal_setpoint(self.active_K if self.heater_range else self.ambient_K)

    def handle(self, command: str) -> str | None:
        cmd = " ".join(command.strip().upper().split())
        self._advance()
        if cmd == "*IDN?":
            return f"LSCI,MODEL335,{self.serial},1.0"
        if cmd == "*ESR?":
            value, self.esr = self.esr, 0
            return str(value)
        if cmd == "*CLS":
            self.esr = 0
            return None
        if cmd in ("KRDG? A", "KRDG?A"):
            return self._reading.record(f"+{self.world.thermal_read_K():.3f}")
        if cmd in ("RDGST? A", "RDGST?A"):
            value, self.reading_status = self.reading_status, 0
            return f"{value:03d}"
        if cmd == "SETP? 1":
            return f"+{self.setpoint_K:.3f}"
        if cmd == "RAMP? 1":
            return f"{int(self.ramp_on)},+{self.ramp_K_per_min:.1f}"
        if cmd == "RANGE? 1":
            return str(self.heater_range)
        if cmd == "HTR? 1":
            error = self.active_K - self.world.thermal_read_K() if self.heater_range else 0.0
            return f"+{max(0.0, min(100.0, 50.0 + 10.0 * error)) if self.heater_range else 0.0:.1f}"
        match = _SET.match(cmd)
        if match:
            self._set(match.group(1), [a.strip() for a in match.group(2).split(",")])
            return None
        self.esr |= 32  # command error
        return None

    def _set(self, name: str, args: list[str]) -> None:
        try:
            if name == "SETP" and len(args) == 1:
                value = float(args[0])
                if not self.low <= value <= self.high:
                    raise ValueError(value)
                if not self.ramp_on:
                    self.active_K = value
                self.setpoint_K = value
            elif name == "RAMP" and len(args) == 2:
                on, rate = int(args[0]), float(args[1])
                if on not in (0, 1) or not 0.1 <= rate <= 100.0:
                    raise ValueError(args)
                if on and not self.ramp_on:
                    self.active_K = self.world.thermal_read_K()
                self.ramp_on, self.ramp_K_per_min = bool(on), rate
            elif name == "RANGE" and len(args) == 1:
                value = int(args[0])
                if value not in (0, 1, 2, 3):
                    raise ValueError(value)
                self.heater_range = value
            else:
                raise ValueError(args)
        except ValueError:
            self.esr |= 16  # execution error: parameter out of range
            return
        self._advance()

    def apply_fault(self, fault: Fault, command: str, reply: str | None) -> str | None:
        """error -> invalid reading (``+0.000``, RDGST? bit 1); stuck; spike (+magnitude K)."""
        if reply is None or not command.strip().upper().startswith("KRDG"):
            return reply
        if fault.kind is FaultKind.ERROR:
            self.reading_status |= 1
            return "+0.000"
        if fault.kind is FaultKind.STUCK:
            return self._reading.freeze()
        if fault.kind is FaultKind.SPIKE:
            return f"+{float(reply) + fault.magnitude:.3f}"
        return reply
