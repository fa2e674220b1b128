"""Role interfaces: what the engine, the station and the GUI may ask of each kind of instrument.

All values are SI floats (V, A, Pa, N, m, K, s). Sign convention: V = V(WE) - V(CE);
I > 0 is anodic at the working electrode (Li stripped from WE), plating on WE is I < 0.
Every setpoint is validated by the driver before anything reaches the wire.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from drivers.errors import InstrumentError, SweepUnsupported

Role = Literal["potentiostat", "pressure_rig", "bias_holder", "frame_source", "thermal"]


class Instrument(ABC):
    """Common to every driver: a station name, identity, settings snapshot, safe state, close."""

    role: ClassVar[Role]

    def __init__(self, name: str) -> None:
        self.name = name

    @abstractmethod
    def identity(self) -> str:
        """Manufacturer, model, serial and firmware as the instrument reports them."""

    @abstractmethod
    def settings_snapshot(self) -> dict[str, Any]:
        """JSON-serialisable settings as they are now (stored in every run file)."""

    @abstractmethod
    def safe_state(self) -> None:
        """Put the instrument into its safe state (output off, bias 0 V, ...)."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection; safe to call twice."""

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


Mode = Literal["open_circuit", "galvanostatic", "potentiostatic", "off"]


@dataclass(frozen=True)
class ElectroReading:
    """One potentiostat sample: ``voltage`` V, ``current`` A, and whether compliance was hit."""

    voltage: float
    current: float
    compliance: bool = False


@dataclass(frozen=True)
class ElectroBlock:
    """A block of buffered samples: ``time`` s relative to the acquisition start."""

    time: np.ndarray
    voltage: np.ndarray
    current: np.ndarray
    compliance: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


#: sweep techniques a potentiostat may declare: potentiostatic / galvanostatic EIS, LSV, CV
SWEEP_TECHNIQUES = frozenset({"eis", "geis", "lsv", "cv"})
#: a sweep point as (run time s, values): EIS ``frequency`` Hz, ``z_real``, ``z_imag`` ohm;
#: LSV / CV ``potential`` V, ``current`` A
SweepPoint = tuple[float, dict[str, float]]


@dataclass(frozen=True)
class Spectrum:
    """One impedance sweep: per point frequency (Hz), Z' and Z'' (ohm, Z'' < 0 capacitive),
    time on the run clock (s); the DC level (V or A), AC amplitude, mode and completeness."""

    frequency: np.ndarray
    z_real: np.ndarray
    z_imag: np.ndarray
    time: np.ndarray
    dc_level: float
    amplitude: float
    galvanostatic: bool
    complete: bool

    @property
    def modulus(self) -> np.ndarray:
        return np.hypot(self.z_real, self.z_imag)

    @property
    def phase_deg(self) -> np.ndarray:
        return np.degrees(np.arctan2(self.z_imag, self.z_real))


@dataclass(frozen=True)
class Sweep:
    """An LSV/CV: time (run clock, s), applied potential (V), measured current (A)."""

    time: np.ndarray
    potential: np.ndarray
    current: np.ndarray
    complete: bool

    def until(self, t: float) -> Sweep:
        """The points measured up to run time ``t`` (an end condition's crossing point)."""
        keep = self.time <= t
        return Sweep(self.time[keep], self.potential[keep], self.current[keep], self.complete)


class Potentiostat(Instrument):
    """Potentiostat / SMU in two-electrode configuration.

    The DC methods are abstract. Sweeps (impedance, voltammetry) are declared by ``sweeps``,
    the techniques of SWEEP_TECHNIQUES the instrument runs; a potentiostat without them (an
    SMU) inherits refusals: every ``start_*`` raises :class:`SweepUnsupported`, nothing sent.
    A sweep is started, then polled (``poll_sweep``) until ``sweep_done``; ``stop_sweep``
    aborts it with the cell at open circuit; ``sweep_result`` is what it measured.
    """

    role: ClassVar[Role] = "potentiostat"
    #: the sweep techniques this potentiostat runs (empty: DC sourcing only)
    sweeps: ClassVar[frozenset[str]] = frozenset()

    def can_sweep(self, technique: str) -> bool:
        """Whether this potentiostat runs ``technique`` (``eis``, ``geis``, ``lsv``, ``cv``)."""
        return technique in self.sweeps

    def _refuse(self, technique: str) -> SweepUnsupported:
        return SweepUnsupported(self.name, technique, self.sweeps)

    def start_eis(self, f_start: float, f_end: float, points: int, amplitude: float,
                  dc_level: float | None = None, galvanostatic: bool = False,
                  max_duration: float | None = None) -> float:  # fmt: skip
        """Start an impedance sweep ``f_start`` -> ``f_end`` Hz, ``points`` log-spaced, of
        ``amplitude`` V (A when galvanostatic) around ``dc_level`` V (A; None: open circuit).
        Returns the estimated duration (s)."""
        raise self._refuse("geis" if galvanostatic else "eis")

    def start_lsv(self, start: float, stop: float, step: float, rate: float,
                  max_duration: float | None = None) -> float:  # fmt: skip
        """Start a linear sweep ``start`` -> ``stop`` V in ``step`` V at ``rate`` V/s."""
        raise self._refuse("lsv")

    def start_cv(self, start: float, vertex1: float, vertex2: float, step: float, rate: float,
                 scans: int = 1, max_duration: float | None = None) -> float:  # fmt: skip
        """Start a cyclic sweep start -> vertex1 -> vertex2 (-> start), ``scans`` times."""
        raise self._refuse("cv")

    def poll_sweep(self) -> list[SweepPoint]:
        """Points of the running sweep that arrived since the previous poll."""
        raise self._refuse("any")

    def stop_sweep(self) -> None:
        """Abort the running sweep (cell at open circuit); its result is partial."""
        raise self._refuse("any")

    @property
    def sweep_done(self) -> bool:
        """True when no sweep is running."""
        return True

    def sweep_result(self) -> Spectrum | Sweep:
        """What the latest sweep measured (complete or not)."""
        raise self._refuse("any")

    @abstractmethod
    def set_open_circuit(self) -> None:
        """Zero current, voltage measured (rest / OCV)."""

    @abstractmethod
    def set_current(self, current: float, voltage_limit: float) -> None:
        """Galvanostatic: source ``current`` A with compliance ``voltage_limit`` V; output on."""

    @abstractmethod
    def set_voltage(self, voltage: float, current_limit: float) -> None:
        """Potentiostatic: source ``voltage`` V with compliance ``current_limit`` A; output on."""

    @abstractmethod
    def output_off(self) -> None:
        """Disconnect the output (safety-critical: retried, loud on failure)."""

    @abstractmethod
    def read(self) -> ElectroReading:
        """One immediate measurement."""

    @abstractmethod
    def start_buffered(self, rate_hz: float) -> None:
        """Start continuous buffered acquisition at ``rate_hz`` with the present source."""

    @abstractmethod
    def fetch(self) -> ElectroBlock:
        """Samples acquired since the previous fetch (may be empty)."""

    @abstractmethod
    def stop_buffered(self) -> None:
        """Stop buffered acquisition."""

    @property
    @abstractmethod
    def mode(self) -> Mode:
        """What the output is doing now."""


@dataclass(frozen=True)
class PressureReading:
    """Stack load: ``force`` N, ``pressure`` Pa (force / cell area), actuator ``position`` m."""

    force: float
    pressure: float
    position: float


class PressureRig(Instrument):
    """Stack-pressure rig: closed-loop force control on a cell of known area."""

    role: ClassVar[Role] = "pressure_rig"

    @property
    @abstractmethod
    def cell_area(self) -> float:
        """Area in m² that converts force to pressure."""

    @abstractmethod
    def set_pressure(self, pressure: float, rate: float | None = None) -> None:
        """Drive to ``pressure`` Pa (at ``rate`` Pa/s if given) and hold it."""

    @abstractmethod
    def set_force(self, force: float, rate: float | None = None) -> None:
        """Drive to ``force`` N (at ``rate`` N/s if given) and hold it."""

    @abstractmethod
    def hold_position(self) -> None:
        """Stop regulating; keep the actuator where it is (load may relax by creep)."""

    def hold_gap(self, max_rise: float | None = None) -> None:
        """Constant gap: hold the actuator, record the pressure; trip on a rise > ``max_rise`` Pa."""
        raise InstrumentError(self.name, "this pressure rig has no constant-gap mode")

    @abstractmethod
    def release(self) -> None:
        """Back off to zero load."""

    @abstractmethod
    def read(self) -> PressureReading:
        """Present force, pressure and actuator position."""

    @abstractmethod
    def service(self) -> None:
        """Run one iteration of the control loop (called periodically by the engine)."""

    @property
    @abstractmethod
    def settled(self) -> bool:
        """True when the load is within the settling tolerance of the setpoint."""


@dataclass(frozen=True)
class BiasReading:
    """Bias ``voltage`` V applied to the probe, measured ``current`` A, compliance flag."""

    voltage: float
    current: float
    compliance: bool = False


class BiasHolder(Instrument):
    """TEM/STM biasing holder: piezo manipulator plus a bias source."""

    role: ClassVar[Role] = "bias_holder"

    @abstractmethod
    def set_bias(self, voltage: float, current_limit: float) -> None:
        """Apply ``voltage`` V between probe and sample with compliance ``current_limit`` A."""

    @abstractmethod
    def bias_off(self) -> None:
        """Bias to 0 V and output off (safety-critical)."""

    @abstractmethod
    def read(self) -> BiasReading:
        """Present bias and current."""

    @abstractmethod
    def position(self) -> tuple[float, float, float]:
        """Probe position x, y, z in m."""

    @abstractmethod
    def move_coarse(self, axis: str, steps: int) -> None:
        """Inertial (stick-slip) steps along ``axis`` ('x', 'y' or 'z')."""

    @abstractmethod
    def move_fine(self, axis: str, distance: float) -> None:
        """Fine piezo move of ``distance`` m along ``axis``."""

    @abstractmethod
    def approach_until_contact(
        self, threshold_current: float, probe_bias: float, step: float, max_travel: float
    ) -> bool:
        """Advance z in ``step`` m increments under ``probe_bias`` V until |I| >= threshold.

        Never moves beyond ``max_travel`` m; returns True on contact.
        """

    @abstractmethod
    def retract(self, distance: float) -> None:
        """Move the probe back by ``distance`` m."""


@dataclass(frozen=True)
class Frame:
    """One image with its time on the run clock (s) and free metadata."""

    time: float
    image: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)


class FrameSource(Instrument):
    """In situ imaging frames (folder of exported TIFF/PNG, or the simulated camera)."""

    role: ClassVar[Role] = "frame_source"

    @abstractmethod
    def start(self) -> None:
        """Begin capturing / watching."""

    @abstractmethod
    def stop(self) -> None:
        """Stop capturing / watching."""

    @abstractmethod
    def poll(self) -> list[Frame]:
        """Frames that arrived since the previous poll, oldest first."""

    @property
    @abstractmethod
    def frame_shape(self) -> tuple[int, int]:
        """(height, width) of each frame in pixels."""


class ThermalController(Instrument):
    """Cell temperature controller."""

    role: ClassVar[Role] = "thermal"

    @abstractmethod
    def set_temperature(self, temperature: float) -> None:
        """Setpoint in K."""

    @abstractmethod
    def read_temperature(self) -> float:
        """Present temperature in K."""

    @property
    @abstractmethod
    def stable(self) -> bool:
        """True when the temperature has settled at the setpoint."""
