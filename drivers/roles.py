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

from drivers.errors import InstrumentError

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


class Potentiostat(Instrument):
    """Potentiostat / SMU in two-electrode configuration."""

    role: ClassVar[Role] = "potentiostat"

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
