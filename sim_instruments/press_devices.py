"""Emulators of the stack-pressure rig's serial instruments, driven by the simulated world.

- :class:`LoadCellIndicatorEmulator`: a force gauge / load-cell indicator speaking a subset of
  Mark-10's Gauge Control Language 2 (``?C``, ``Z``, ``N``/``LBF``/``KGF``, ``*10``-style errors).
- :class:`ScrewActuatorEmulator`: a motorised screw stage speaking Zaber's ASCII protocol
  (``/1 1 move rel 100`` -> ``@01 1 OK BUSY -- 0``).
- :class:`PressureControllerEmulator`: an integrated stack-pressure controller with an
  Alicat-style unit-id protocol (``AS 5.0`` -> data frame) that regulates force itself on the
  world's clock.

Protocols are documented in ``docs/instruments/loadcell_indicator.md``,
``docs/instruments/screw_actuator.md`` and ``docs/instruments/pressure_controller.md``.
"""

from __future__ import annotations

from typing import Any

from sim_instruments.clocked_loop import ClockedLoop
from sim_instruments.faults import Fault, FaultInjector, FaultKind
from sim_instruments.lineserver import LineDevice
from sim_instruments.stuck import FrozenReading

#: force units of the indicator and their size in newtons (Mark-10 unit commands)
FORCE_UNITS = {"N": 1.0, "LBF": 4.4482216152605, "KGF": 9.80665}


class LoadCellIndicatorEmulator(LineDevice):
    """Load-cell indicator (Mark-10 GCL2 subset): reads ``world.load_cell_force_N()``."""

    read_termination = b"\r"
    write_termination = b"\r\n"

    def __init__(
        self,
        world: Any,
        faults: FaultInjector | None = None,
        *,
        capacity_N: float = 5000.0,
        decimals: int = 2,
        serial: str = "LC-0001",
    ) -> None:
        super().__init__(faults)
        self.world = world
        self.capacity_N = capacity_N
        self.decimals = decimals
        self.serial = serial
        self.unit = "N"
        self.offset_N = 0.0
        self.peak_compression_N = 0.0
        self.peak_tension_N = 0.0
        self._reading = FrozenReading()

    def _force_N(self) -> float:
        force = self.world.load_cell_force_N() - self.offset_N
        self.peak_compression_N = max(self.peak_compression_N, force)
        self.peak_tension_N = min(self.peak_tension_N, force)
        return force

    def _format(self, force_N: float) -> str:
        return f"{force_N / FORCE_UNITS[self.unit]:.{self.decimals}f} {self.unit}"

    def handle(self, command: str) -> str | None:
        cmd = command.strip().upper()
        if cmd in ("?", "?C"):
            return self._reading.record(self._format(self._force_N()))
        if cmd == "?PC":
            return self._format(self.peak_compression_N)
        if cmd == "?PT":
            return self._format(self.peak_tension_N)
        if cmd == "Z":
            self.offset_N = self.world.load_cell_force_N()
            return "R"
        if cmd == "CLR":
            self.peak_compression_N = self.peak_tension_N = 0.0
            return "R"
        if cmd in FORCE_UNITS:
            self.unit = cmd
            return "R"
        if cmd == "RN":
            return "Load cell indicator"
        if cmd == "RM":
            return f"SIM-LC{int(self.capacity_N)}"
        if cmd == "RS":
            return self.serial
        if cmd == "RV":
            return "1.00"
        if cmd == "LIST":
            return f"V1.00;{self.unit};CUR;CAP{self.capacity_N:g}N"
        return "*10"

    def apply_fault(self, fault: Fault, command: str, reply: str | None) -> str | None:
        """error -> ``*11``; stuck -> the reading freezes; spike -> reading + magnitude (N)."""
        if fault.kind is FaultKind.ERROR:
            return "*11"
        is_reading = command.strip().upper() in ("?", "?C")
        if fault.kind is FaultKind.STUCK and is_reading:
            return self._reading.freeze()
        if fault.kind is FaultKind.SPIKE and is_reading and reply:
            value = float(reply.split()[0]) * FORCE_UNITS[self.unit] + fault.magnitude
            return self._format(value)
        return reply


class ScrewActuatorEmulator(LineDevice):
    """Motorised screw stage speaking Zaber ASCII; moves the world's actuator.

    The emulator keeps the commanded target; the world's actuator travels there at its own
    finite speed and the axis reports ``BUSY`` until it has arrived. ``max_speed_steps`` is what
    ``get maxspeed`` reports (the world's actuator speed).
    """

    read_termination = b"\n"
    write_termination = b"\r\n"

    def __init__(
        self,
        world: Any,
        faults: FaultInjector | None = None,
        *,
        address: int = 1,
        limit_min: int = 0,
        limit_max: int = 2_000_000,
        max_speed_steps: float = 2000.0,
        device_id: int = 50081,
        serial: int = 123456,
    ) -> None:
        super().__init__(faults)
        self.world = world
        self.address = address
        self.limit_min = limit_min
        self.limit_max = limit_max
        self.max_speed_steps = max_speed_steps
        self.device_id = device_id
        self.serial = serial
        self.target = world.actuator_steps()
        self.warning = "--"
        self._pos = FrozenReading()

    def _status(self) -> str:
        return "BUSY" if self.world.actuator_steps() != self.target else "IDLE"

    def _reply(self, axis: int, data: str, flag: str = "OK", warning: str | None = None) -> str:
        return (
            f"@{self.address:02d} {axis} {flag} {self._status()} {warning or self.warning} {data}"
        )

    def _move_to(self, target: int) -> None:
        """Retarget the world's actuator (it travels there at its own finite speed)."""
        self.world.actuator_move_steps(target - self.target)
        self.target = target

    def handle(self, command: str) -> str | None:
        parts = command.strip().split()
        if not parts or not parts[0].startswith("/"):
            return None  # Zaber devices ignore lines that are not commands
        head = parts[0][1:]
        words = ([head] if head else []) + parts[1:]
        try:
            address = int(words[0]) if words else 0
        except ValueError:
            address = 0
            words.insert(0, "0")
        if address not in (0, self.address):
            return None  # addressed to another device on the chain
        rest = words[1:]
        axis = 0
        if rest and rest[0].isdigit():
            axis = int(rest[0])
            rest = rest[1:]
        if axis not in (0, 1):
            return self._reply(axis, "BADAXIS", "RJ")
        if not rest:
            return self._reply(axis, "0")
        verb, args = rest[0].lower(), rest[1:]
        try:
            return self._execute(axis, verb, args)
        except (ValueError, IndexError):
            return self._reply(axis, "BADDATA", "RJ")

    def _execute(self, axis: int, verb: str, args: list[str]) -> str:
        if verb == "move":
            kind, value = args[0].lower(), args[1] if len(args) > 1 else ""
            here = self.world.actuator_steps()  # Zaber: relative to where the axis is now
            if kind == "abs":
                target = int(value)
            elif kind == "rel":
                target = here + int(value)
            elif kind == "min":
                target = self.limit_min
            elif kind == "max":
                target = self.limit_max
            else:
                return self._reply(axis, "BADCOMMAND", "RJ")
            if not self.limit_min <= target <= self.limit_max:
                return self._reply(axis, "BADDATA", "RJ")
            self._move_to(target)
            return self._reply(axis, "0")
        if verb == "stop":
            interrupted = self._status() == "BUSY"
            self._move_to(self.world.actuator_steps())
            return self._reply(axis, "0", warning="NI" if interrupted else None)
        if verb == "home":
            self._move_to(self.limit_min)
            return self._reply(axis, "0")
        if verb == "get":
            return self._reply(axis, self._get(args[0].lower()))
        if verb == "warnings":
            if args and args[0].lower() == "clear":
                self.warning = "--"
            return self._reply(axis, "00" if self.warning == "--" else f"01 {self.warning}")
        return self._reply(axis, "BADCOMMAND", "RJ")

    def _get(self, setting: str) -> str:
        values = {
            "pos": self.world.actuator_steps(),
            "limit.min": self.limit_min,
            "limit.max": self.limit_max,
            "maxspeed": int(self.max_speed_steps),
            "deviceid": self.device_id,
            "system.serial": self.serial,
            "version": "7.38",
        }
        if setting not in values:
            raise ValueError(setting)
        if setting == "pos":
            return self._pos.record(str(values[setting]))
        return str(values[setting])

    def apply_fault(self, fault: Fault, command: str, reply: str | None) -> str | None:
        """error -> stall: warning ``FS`` latched until ``warnings clear``; stuck -> frozen pos."""
        if reply is None:
            return reply
        fields = reply.split(" ", 5)
        if fault.kind is FaultKind.ERROR:
            self._move_to(self.world.actuator_steps())  # stalled where it stands
            self.warning = "FS"
            fields[3], fields[4] = "IDLE", "FS"
            return " ".join(fields)
        if fault.kind is FaultKind.STUCK and command.split()[-1:] == ["pos"]:
            fields[5] = self._pos.freeze()
            return " ".join(fields)
        return reply


class PressureControllerEmulator(LineDevice):
    """Integrated stack-pressure controller (Alicat-style unit-id ASCII protocol).

    It owns the world's actuator and load cell and regulates force to its setpoint on the
    world's clock in a background thread that is a clock participant (control period
    ``period_s``), so on a VirtualClock regulation advances in step with the run.
    """

    read_termination = b"\r"
    write_termination = b"\r"

    def __init__(
        self,
        world: Any,
        faults: FaultInjector | None = None,
        *,
        unit_id: str = "A",
        area_m2: float = 1e-4,
        max_pressure_Pa: float = 100e6,
        stiffness_N_per_m: float = 1e7,
        gain_per_s: float = 4.0,
        ramp_Pa_per_s: float = 1e6,
        period_s: float = 0.05,
        max_speed_steps: float = 2000.0,
        serial: str = "PC-7001",
    ) -> None:
        super().__init__(faults)
        self.world = world
        self.unit_id = unit_id.upper()
        self.area_m2 = area_m2
        self.max_pressure_Pa = max_pressure_Pa
        self.stiffness = stiffness_N_per_m
        self.gain = gain_per_s
        self.ramp_Pa_per_s = ramp_Pa_per_s
        self.period_s = period_s
        self.max_speed_steps = max_speed_steps
        self.serial = serial
        self.setpoint_Pa = 0.0
        self.active_setpoint_Pa = 0.0  # ramped setpoint the loop follows now
        self.mode = "HLD"  # REG (regulating), HLD (hold position), GAP (constant gap), EXH
        self.error_code = 0
        self.gap_trip_Pa = max_pressure_Pa  # constant gap: release above this pressure
        self.target = world.actuator_steps()
        self._integral = 0.0  # N*s
        self._last_force = world.load_cell_force_N()  # measured at power-up
        self._polls = FrozenReading()
        self._loop = ClockedLoop(world.clock, period_s, self._tick, "press-ctl", step_first=False)

    # -- regulation ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the regulation loop (idempotent)."""
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def _tick(self) -> None:
        with self.lock:
            self.regulate(self.period_s)

    def regulate(self, dt: float) -> None:
        """One regulation step: ramped setpoint with feed-forward, PI on the force error.

        The actuator position integrates the moves, so the PI on the move rate is a type-2 loop:
        no offset even while the Li creeps and relaxes the force at a steady rate.
        """
        force = self.world.load_cell_force_N()
        self._last_force = force
        if self.mode == "GAP" and force / self.area_m2 > self.gap_trip_Pa:
            self.mode, self.error_code = "EXH", 8  # the cell pushed past the rise limit
            self.setpoint_Pa = self.active_setpoint_Pa = 0.0
        if self.mode == "EXH":
            if self.target != 0:
                self.world.actuator_move_steps(-self.target)
                self.target = 0
            return
        if self.mode != "REG":
            self._integral = 0.0
            return
        error_N = self.active_setpoint_Pa * self.area_m2 - force
        step = self.ramp_Pa_per_s * dt
        ramp = max(-step, min(step, self.setpoint_Pa - self.active_setpoint_Pa))
        self.active_setpoint_Pa += ramp
        integral = self._integral + error_N * dt
        feed_forward = ramp * self.area_m2 / dt
        rate_N = feed_forward + self.gain * error_N + self.gain**2 / 4 * integral
        wanted = round(rate_N * dt / self.stiffness / self.world.actuator_step_size_m())
        reach = int(self.max_speed_steps * dt)
        steps = max(-reach, min(reach, wanted), -self.target)
        if steps == wanted or (wanted > 0) != (error_N > 0):
            self._integral = integral  # anti-windup: hold the integral while saturated
        if steps:
            self.world.actuator_move_steps(steps)
            self.target += steps

    # -- protocol -----------------------------------------------------------------------------
    def _force(self) -> float:
        """The force the controller reports: its loop's latest reading while it runs."""
        return self._last_force if self._loop.running else self.world.load_cell_force_N()

    def _frame(self) -> str:
        force = self._force()
        pressure_MPa = force / self.area_m2 / 1e6
        position_mm = self.world.actuator_steps() * self.world.actuator_step_size_m() * 1e3
        setpoint = self.gap_trip_Pa if self.mode == "GAP" else self.setpoint_Pa
        return (
            f"{self.unit_id} {force:+010.2f} {pressure_MPa:+08.3f} "
            f"{setpoint / 1e6:+08.3f} {position_mm:+09.4f} {self.mode}"
            + (f" E{self.error_code:02d}" if self.error_code else "")
        )

    def handle(self, command: str) -> str | None:
        cmd = command.strip().upper()
        if not cmd.startswith(self.unit_id):
            return None  # another unit on the bus
        body = cmd[len(self.unit_id) :].strip()
        if body == "":
            return self._polls.record(self._frame())
        if body.startswith("SR"):
            return self._set_ramp(body[2:])
        if body.startswith("S"):
            return self._set_setpoint(body[1:])
        if body == "HP":
            self.mode = "HLD"
            return self._frame()
        if body.startswith("GP"):
            return self._hold_gap(body[2:])
        if body == "EX":
            self.mode = "EXH"
            self.setpoint_Pa = self.active_setpoint_Pa = 0.0
            return self._frame()
        if body == "C":
            self.active_setpoint_Pa = self._last_force / self.area_m2
            self.mode = "REG"
            return self._frame()
        if body == "??M*":
            return f"{self.unit_id} SIM PRESSCTL-100 SN {self.serial} FW 2.1"
        if body == "AREA":
            return f"{self.unit_id} AREA {self.area_m2 * 1e4:.4f}"
        if body == "MAX":
            return f"{self.unit_id} MAX {self.max_pressure_Pa / 1e6:.3f}"
        if body == "CE":
            self.error_code = 0
            return self._frame()
        return "?"

    def _set_setpoint(self, text: str) -> str:
        try:
            value_MPa = float(text)
        except ValueError:
            return "?"
        if not 0.0 <= value_MPa * 1e6 <= self.max_pressure_Pa:
            return "?"
        if self.mode != "REG":
            self.active_setpoint_Pa = self.world.load_cell_force_N() / self.area_m2
        self.setpoint_Pa = value_MPa * 1e6
        self.mode = "REG"
        self.start()
        return self._frame()

    def _hold_gap(self, text: str) -> str:
        """``GP [<MPa>]``: hold the actuator; release (E08) once the pressure rises more than
        <MPa> above the present one (no argument: above MAX)."""
        try:
            rise = float(text) * 1e6 if text.strip() else None
        except ValueError:
            return "?"
        if rise is not None and not 0.0 <= rise <= self.max_pressure_Pa:
            return "?"
        baseline = self._force() / self.area_m2
        self.gap_trip_Pa = (
            self.max_pressure_Pa if rise is None else min(baseline + rise, self.max_pressure_Pa)
        )
        self.mode = "GAP"
        self.start()
        return self._frame()

    def _set_ramp(self, text: str) -> str:
        text = text.strip()
        if text == "":
            return f"{self.unit_id} SR {self.ramp_Pa_per_s / 1e6:.6f}"
        try:
            value = float(text)
        except ValueError:
            return "?"
        if not 1e-6 <= value <= 100.0:
            return "?"
        self.ramp_Pa_per_s = value * 1e6
        return f"{self.unit_id} SR {value:.6f}"

    def apply_fault(self, fault: Fault, command: str, reply: str | None) -> str | None:
        """error -> overload code E07 latched in the frame; stuck/spike on the force field."""
        if reply is None or not reply.startswith(self.unit_id + " ") or "AREA" in reply:
            return reply
        if fault.kind is FaultKind.ERROR:
            self.error_code = 7
            self.mode = "HLD"
            return self._frame()
        if fault.kind is FaultKind.STUCK:
            return self._polls.freeze() or reply
        if fault.kind is FaultKind.SPIKE:
            fields = reply.split()
            force = float(fields[1]) + fault.magnitude
            fields[1] = f"{force:+010.2f}"
            fields[2] = f"{force / self.area_m2 / 1e6:+08.3f}"
            return " ".join(fields)
        return reply
