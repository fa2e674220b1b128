"""The commands a step executor yields, and what each one sends back.

An executor is a generator (like a Bluesky plan yielding ``Msg`` objects): it yields commands
and receives each one's result. Two interpreters run the same generator: the engine
(:mod:`protocols.engine`) against the station's instruments, on the run clock, and the dry
run (:mod:`protocols.estimate`) against an ideal bench, for ``validate``'s duration, charge and
limit checks — so the estimate follows exactly the commands that run.

Waiting commands (``blocking``) take run time; the others act at once. Setpoints a command
asks of an instrument are declared by :meth:`Command.setpoints`: the engine refuses a sourced
setpoint beyond the run's limits before the step commands anything, ``validate`` checks every
one against the protocol's limits and the station's ranges.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal


@dataclass(frozen=True)
class Setpoint:
    """A value asked of an instrument: ``what`` (current, voltage, bias, pressure, temperature),
    signed SI ``value``; ``sourced`` False for a compliance (checked against ranges only)."""

    what: str
    value: float
    sourced: bool = True


@dataclass(frozen=True)
class Command:
    """Base of every command."""

    blocking: ClassVar[bool] = False

    def setpoints(self) -> tuple[Setpoint, ...]:
        return ()


# -- waiting ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sleep(Command):
    """Wait ``seconds`` of step time (time spent paused does not count). Sends None."""

    blocking: ClassVar[bool] = True
    seconds: float


@dataclass(frozen=True)
class WaitEnd(Command):
    """Wait until one of the step's end conditions fires. Sends the ``Fired`` condition.

    ``extra``: end conditions the plan adds at run time (a C-rate taper converted to a current
    with the capacity basis), watched after the step's own."""

    blocking: ClassVar[bool] = True
    extra: tuple[Any, ...] = ()  # EndCondition (protocols.steps.base imports this module)


@dataclass(frozen=True)
class WaitUntil(Command):
    """Wait until the rig is settled / the temperature stable; sends False on ``timeout`` (s).

    ``since_command``: judged only on a reading taken after the latest setpoint command."""

    blocking: ClassVar[bool] = True
    what: Literal["pressure_settled", "temperature_stable"]
    timeout: float | None = None
    since_command: bool = False


@dataclass(frozen=True)
class WaitSignal(Command):
    """Wait until some track has signalled ``name``; sends False on ``timeout`` (s)."""

    blocking: ClassVar[bool] = True
    name: str
    timeout: float | None = None


# -- potentiostat ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Source(Command):
    """Set the potentiostat source: open circuit, ``current`` A or ``voltage`` V with compliance
    ``limit``. With ``acquire`` buffered acquisition (re)starts and the source is re-applied
    after an immediate pause; without, only the source is set. Sends None."""

    mode: Literal["open_circuit", "current", "voltage"]
    value: float = 0.0
    limit: float = 0.0
    acquire: bool = True

    def setpoints(self) -> tuple[Setpoint, ...]:
        if self.mode == "current":
            return (Setpoint("current", self.value), Setpoint("voltage", self.limit, False))
        if self.mode == "voltage":
            return (Setpoint("voltage", self.value),)
        return ()


@dataclass(frozen=True)
class StopAcquisition(Command):
    """Fetch what is buffered, stop buffered acquisition; sends the last voltage measured (V)."""


@dataclass(frozen=True)
class ReadElectro(Command):
    """One immediate potentiostat reading; sends an ``ElectroReading``."""


# -- pressure rig, thermal -------------------------------------------------------------------
@dataclass(frozen=True)
class SetPressure(Command):
    """Drive the stack pressure to ``pressure`` Pa (at ``rate`` Pa/s). Sends None."""

    pressure: float
    rate: float | None = None

    def setpoints(self) -> tuple[Setpoint, ...]:
        return (Setpoint("pressure", self.pressure),)


@dataclass(frozen=True)
class HoldGap(Command):
    """Constant gap: hold the actuator, record the pressure; trip on a rise > ``max_rise`` Pa."""

    max_rise: float | None = None


@dataclass(frozen=True)
class ReadPressure(Command):
    """The present stack pressure; sends a ``PressureReading``."""


@dataclass(frozen=True)
class SetTemperature(Command):
    """Set the cell temperature to ``temperature`` K. Sends None."""

    temperature: float

    def setpoints(self) -> tuple[Setpoint, ...]:
        return (Setpoint("temperature", self.temperature),)


# -- bias holder, frames ---------------------------------------------------------------------
@dataclass(frozen=True)
class SetBias(Command):
    """Apply a bias ``voltage`` V with compliance ``current_limit`` A (re-applied after an
    immediate pause). Sends None."""

    voltage: float
    current_limit: float

    def setpoints(self) -> tuple[Setpoint, ...]:
        return (Setpoint("bias", self.voltage),)


@dataclass(frozen=True)
class Approach(Command):
    """``coarse_steps`` stick-slip steps toward the sample, then fine steps of ``step`` m under
    ``probe_bias`` V until |I| >= ``threshold_current`` A or ``max_travel`` m.
    Sends ``(contact, (x, y, z))``."""

    coarse_steps: int
    threshold_current: float
    probe_bias: float
    step: float
    max_travel: float

    def setpoints(self) -> tuple[Setpoint, ...]:
        return (Setpoint("bias", self.probe_bias),)


@dataclass(frozen=True)
class Capture(Command):
    """Start (``enabled``) or stop frame capture. Sends None."""

    enabled: bool


# -- sweeps (potentiostats with a frequency-response analyser / sweep generator) ----------------
@dataclass(frozen=True)
class Impedance(Command):
    """One impedance sweep; sends the measured ``Spectrum`` (partial when it was stopped).
    ``dc_level`` None: at open circuit. Points go to the ``impedance`` stream as they arrive."""

    blocking: ClassVar[bool] = True
    f_start: float
    f_end: float
    points: int
    amplitude: float
    dc_level: float | None
    galvanostatic: bool
    max_duration: float | None = None

    def setpoints(self) -> tuple[Setpoint, ...]:
        if self.dc_level is None:
            return ()
        return (Setpoint("current" if self.galvanostatic else "voltage", self.dc_level),)


@dataclass(frozen=True)
class Voltammetry(Command):
    """An LSV (``potentials`` = start, stop) or CV (start, vertex1, vertex2) in ``step`` V steps
    at ``rate`` V/s; sends (the measured ``Sweep``, the step's end condition that stopped it or
    None), or None in the dry run. Points go to the ``electro`` stream."""

    blocking: ClassVar[bool] = True
    kind: Literal["lsv", "cv"]
    potentials: tuple[float, ...]
    step: float
    rate: float
    scans: int = 1
    max_duration: float | None = None

    def setpoints(self) -> tuple[Setpoint, ...]:
        return tuple(Setpoint("voltage", v) for v in self.potentials)


# -- the run ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Emit(Command):
    """Log an event of ``kind`` with one-line ``text`` and structured ``data`` for this step."""

    kind: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Signal(Command):
    """Tell the other tracks that ``name`` happened (now). Sends None."""

    name: str


@dataclass(frozen=True)
class EndRun(Command):
    """End the run now with ``status`` (``stopped`` or ``failed``) and ``reason``."""

    status: Literal["stopped", "failed"]
    reason: str


#: what an executor is: yields commands, receives their results, returns the fired end
#: condition (or None when the step simply completed)
Plan = Generator[Command, Any, Any]
