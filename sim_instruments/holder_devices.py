"""Piezo positioner controller of a TEM/STM biasing holder: attocube ANC300-style ASCII.

Axes 1, 2, 3 move the probe along x, y, z of ``world.holder_move``. Coarse motion is
stick-slip stepping (``stepu``/``stepd``; step size proportional to the step amplitude
``setv``), fine motion is the DC offset voltage (``seta``, 0-150 V) on the same piezo.
Replies follow the ANC300: value lines ``name = value unit``, then ``OK``; a refused command
gets one message line, then ``ERROR``. Command echo is off. Modes: ``gnd`` (outputs grounded:
the fine offset collapses to 0 V), ``stp`` (stepping), ``off`` (offset only), ``stp+``
(stepping with offset). Protocol: ``docs/instruments/piezo_controller.md``.
"""

from __future__ import annotations

from typing import Any

from sim_instruments.faults import Fault, FaultInjector, FaultKind
from sim_instruments.lineserver import LineDevice

AXES = {1: "x", 2: "y", 3: "z"}
MODES = ("gnd", "stp", "off", "stp+")
OFFSET_RANGE_V = (0.0, 150.0)
AMPLITUDE_RANGE_V = (0.0, 150.0)
FREQUENCY_RANGE_HZ = (1, 10000)
MAX_STEPS = 100_000


class CommandError(Exception):
    """A refused command; the message is sent before ``ERROR``."""


class PiezoControllerEmulator(LineDevice):
    """Three stick-slip/offset axes driving ``world.holder_move``."""

    read_termination = b"\n"
    write_termination = b"\r\n"

    def __init__(
        self,
        world: Any,
        faults: FaultInjector | None = None,
        *,
        coarse_m_per_V: float = 1e-9,
        fine_m_per_V: float = 2e-6 / 150.0,
        serial: str = "ANC300-SIM-0042",
    ) -> None:
        super().__init__(faults)
        self.world = world
        self.coarse_m_per_V = coarse_m_per_V
        self.fine_m_per_V = fine_m_per_V
        self.serial = serial
        self.mode = dict.fromkeys(AXES, "gnd")
        self.amplitude = dict.fromkeys(AXES, 30.0)
        self.frequency = dict.fromkeys(AXES, 100)
        self.offset = dict.fromkeys(AXES, 0.0)  # programmed offset voltage
        self._applied = dict.fromkeys(AXES, 0.0)  # offset voltage at the piezo now
        self._slipping = False  # set by a stuck fault for the command being handled

    def handle(self, command: str) -> str | None:
        slipping, self._slipping = self._slipping, False
        words = command.strip().split()
        if not words:
            return None
        try:
            lines = self._execute(words[0].lower(), words[1:], slipping)
        except CommandError as exc:
            return f"{exc}\r\nERROR"
        except (ValueError, IndexError):
            return "Invalid parameter\r\nERROR"
        return "\r\n".join([*lines, "OK"])

    def _axis(self, args: list[str]) -> int:
        axis = int(args[0])
        if axis not in AXES:
            raise CommandError(f"Invalid axis {axis}")
        return axis

    def _apply_offset(self, axis: int) -> None:
        """Drive the piezo to the offset its mode allows (gnd/stp: 0 V)."""
        target = self.offset[axis] if self.mode[axis] in ("off", "stp+") else 0.0
        delta = target - self._applied[axis]
        if delta:
            self.world.holder_move(AXES[axis], delta * self.fine_m_per_V)
            self._applied[axis] = target

    def _execute(self, verb: str, args: list[str], slipping: bool) -> list[str]:
        if verb == "ver":
            return ["attocube ANC300 controller version 1.1.0-sim"]
        if verb == "getsn":
            return [f"serial = {self.serial}"]
        if verb == "echo":
            return []
        axis = self._axis(args)
        getters = {
            "getm": lambda: f"mode = {self.mode[axis]}",
            "getv": lambda: f"voltage = {self.amplitude[axis]:.6f} V",
            "getf": lambda: f"frequency = {self.frequency[axis]} H",
            "geta": lambda: f"voltage = {self.offset[axis]:.6f} V",
        }
        if verb in getters:
            return [getters[verb]()]
        if verb == "setm":
            mode = args[1].lower()
            if mode not in MODES:
                raise CommandError(f"Invalid mode {mode}")
            self.mode[axis] = mode
            self._apply_offset(axis)
            return []
        if verb == "setv":
            self.amplitude[axis] = _within(float(args[1]), AMPLITUDE_RANGE_V)
            return []
        if verb == "setf":
            self.frequency[axis] = int(_within(int(args[1]), FREQUENCY_RANGE_HZ))
            return []
        if verb == "seta":
            self.offset[axis] = _within(float(args[1]), OFFSET_RANGE_V)
            self._apply_offset(axis)
            return []
        if verb in ("stepu", "stepd"):
            if self.mode[axis] not in ("stp", "stp+"):
                raise CommandError("Axis in wrong mode")
            steps = int(_within(int(args[1]), (0, MAX_STEPS)))
            if not slipping:
                sign = 1.0 if verb == "stepu" else -1.0
                step = self.amplitude[axis] * self.coarse_m_per_V
                self.world.holder_move(AXES[axis], sign * steps * step)
            return []
        if verb in ("stop", "stepw"):
            return []
        raise CommandError(f"Unknown command {verb}")

    def before_fault(self, fault: Fault, command: str) -> None:
        """error: the axis shorts and is grounded before the command can act; stuck: the
        stick-slip slips on this command (steps accepted, no motion)."""
        if fault.kind is FaultKind.ERROR:
            axis = self._fault_axis(command)
            self.mode[axis] = "gnd"
            self._apply_offset(axis)
        elif fault.kind is FaultKind.STUCK:
            self._slipping = True

    def apply_fault(self, fault: Fault, command: str, reply: str | None) -> str | None:
        """error -> the short-circuit message and ``ERROR`` instead of the reply."""
        if fault.kind is FaultKind.ERROR:
            axis = self._fault_axis(command)
            return f"Axis {axis} output short circuit, switched to gnd\r\nERROR"
        return reply

    @staticmethod
    def _fault_axis(command: str) -> int:
        words = command.split()
        axis = int(words[1]) if len(words) > 1 and words[1].isdigit() else 3
        return axis if axis in AXES else 3


def _within(value: float, bounds: tuple[float, float]) -> float:
    if not bounds[0] <= value <= bounds[1]:
        raise CommandError(f"Parameter out of range {value}")
    return value
