"""Unit-test doubles of the driver roles for engine tests (not emulators: no wire, no physics).

The cell is an ohmic resistor plus an optional scripted event (a short or a voltage runaway);
instruments read the run clock, so a VirtualClock run is exact and fast. ``fail`` injects
instrument errors into the next calls of a method.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from daq.clock import Clock, VirtualClock
from drivers.errors import InstrumentTimeout
from drivers.roles import (
    BiasHolder,
    BiasReading,
    ElectroBlock,
    ElectroReading,
    Frame,
    FrameSource,
    Potentiostat,
    PressureReading,
    PressureRig,
    ThermalController,
)


class _Faulty:
    """Mixin: ``fail(method, times, exc)`` makes the next ``times`` calls of ``method`` raise."""

    def _init_faults(self) -> None:
        self.failures: dict[str, list[Exception]] = {}
        self.calls: list[tuple[str, tuple]] = []

    def fail(self, method: str, times: int = 1, exc: Exception | None = None) -> None:
        self.failures.setdefault(method, []).extend(
            [exc or InstrumentTimeout(self.name, f"{method} timed out")] * times
        )

    def _hit(self, method: str, *args) -> None:
        self.calls.append((method, args))
        pending = self.failures.get(method)
        if pending:
            raise pending.pop(0)

    def identity(self) -> str:
        return f"fake,{type(self).__name__},0,1"

    def settings_snapshot(self) -> dict:
        return {}

    def close(self) -> None:
        pass


@dataclass
class FakeCell:
    """V = I·R (galvanostatic); I = V/R (potentiostatic); OCV 0.

    ``script(t, v, i)`` may alter the arrays (vectorised over sample times ``t``).
    """

    resistance: float = 100.0
    script: Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = (
        None
    )

    def respond(self, t: np.ndarray, mode: str, setpoint: float) -> tuple[np.ndarray, np.ndarray]:
        t = np.asarray(t, dtype=float)
        if mode == "galvanostatic":
            v, i = setpoint * self.resistance, setpoint
        elif mode == "potentiostatic":
            v, i = setpoint, setpoint / self.resistance
        else:
            v, i = 0.0, 0.0
        v, i = np.full(t.shape, v), np.full(t.shape, i)
        return self.script(t, v, i) if self.script else (v, i)


class FakePotentiostat(_Faulty, Potentiostat):
    def __init__(self, clock: Clock, cell: FakeCell | None = None, name: str = "cell") -> None:
        super().__init__(name)
        self._init_faults()
        self.clock = clock
        self.cell = cell or FakeCell()
        self._mode = "off"
        self.setpoint = 0.0
        self.limit = 0.0
        self.rate: float | None = None
        self._acq_t0 = 0.0
        self._next_k = 0
        self.off_times: list[float] = []
        self.compliance_after: float | None = None  # run time from which samples flag compliance

    @property
    def mode(self):
        return self._mode

    def set_open_circuit(self) -> None:
        self._hit("set_open_circuit")
        self._mode, self.setpoint = "open_circuit", 0.0

    def set_current(self, current: float, voltage_limit: float) -> None:
        self._hit("set_current", current, voltage_limit)
        self._mode, self.setpoint, self.limit = "galvanostatic", current, voltage_limit

    def set_voltage(self, voltage: float, current_limit: float) -> None:
        self._hit("set_voltage", voltage, current_limit)
        self._mode, self.setpoint, self.limit = "potentiostatic", voltage, current_limit

    def output_off(self) -> None:
        self._hit("output_off")
        self._mode, self.setpoint = "off", 0.0
        self.off_times.append(self.clock.now())

    def safe_state(self) -> None:
        self.output_off()

    def read(self) -> ElectroReading:
        self._hit("read")
        v, i = self.cell.respond(np.array([self.clock.now()]), self._mode, self.setpoint)
        return ElectroReading(float(v[0]), float(i[0]))

    def start_buffered(self, rate_hz: float) -> None:
        """Like the 2450: the first reading completes one interval after the start."""
        self._hit("start_buffered", rate_hz)
        self.rate, self._acq_t0, self._next_k = rate_hz, self.clock.now(), 1

    def fetch(self) -> ElectroBlock:
        self._hit("fetch")
        if self.rate is None:
            return ElectroBlock(np.empty(0), np.empty(0), np.empty(0), np.empty(0, bool))
        last_k = int(np.floor((self.clock.now() - self._acq_t0) * self.rate + 1e-9))
        ks = np.arange(self._next_k, last_k + 1)
        self._next_k = last_k + 1
        rel = ks / self.rate
        v, i = self.cell.respond(self._acq_t0 + rel, self._mode, self.setpoint)
        comp = np.zeros(ks.size, dtype=bool)
        if self.compliance_after is not None and self._mode == "galvanostatic":
            comp = self._acq_t0 + rel >= self.compliance_after
        return ElectroBlock(rel, v, i, comp)

    def stop_buffered(self) -> None:
        self._hit("stop_buffered")
        self.rate = None


class FakePressureRig(_Faulty, PressureRig):
    """First-order approach to the setpoint on every ``service`` (fraction ``gain`` per call)."""

    def __init__(self, name: str = "press", gain: float = 0.5, area: float = 1e-4) -> None:
        super().__init__(name)
        self._init_faults()
        self.pressure = 0.0
        self.target = 0.0
        self.gain = gain
        self.area = area
        self.holding = False
        self.released = False

    @property
    def cell_area(self) -> float:
        return self.area

    def set_pressure(self, pressure: float, rate: float | None = None) -> None:
        self._hit("set_pressure", pressure, rate)
        self.target, self.holding = pressure, False

    def set_force(self, force: float, rate: float | None = None) -> None:
        self.set_pressure(force / self.area, rate)

    def hold_position(self) -> None:
        self._hit("hold_position")
        self.holding = True

    def release(self) -> None:
        self._hit("release")
        self.target, self.pressure, self.released = 0.0, 0.0, True

    def read(self) -> PressureReading:
        self._hit("read")
        return PressureReading(self.pressure * self.area, self.pressure, 0.0)

    def service(self) -> None:
        self._hit("service")
        if not self.holding:
            self.pressure += self.gain * (self.target - self.pressure)

    @property
    def settled(self) -> bool:
        return abs(self.pressure - self.target) <= max(0.01 * abs(self.target), 1e3)

    def safe_state(self) -> None:
        self.hold_position()


class FakeBiasHolder(_Faulty, BiasHolder):
    def __init__(self, clock: Clock, name: str = "holder", resistance: float = 1e9,
                 contact_after: int = 3, overshoot: float = 1.0) -> None:  # fmt: skip
        super().__init__(name)
        self.overshoot = overshoot  # read bias / set bias: a source that overshoots its setpoint
        self._init_faults()
        self.clock = clock
        self.voltage = 0.0
        self.resistance = resistance
        self.contact_after = contact_after
        self.z = 0.0
        self.history: list[tuple[float, float]] = []

    def set_bias(self, voltage: float, current_limit: float) -> None:
        self._hit("set_bias", voltage, current_limit)
        self.voltage = voltage
        self.history.append((self.clock.now(), voltage))

    def bias_off(self) -> None:
        self._hit("bias_off")
        self.voltage = 0.0
        self.history.append((self.clock.now(), 0.0))

    def safe_state(self) -> None:
        self.bias_off()

    def read(self) -> BiasReading:
        self._hit("read")
        v = self.voltage * self.overshoot
        return BiasReading(v, v / self.resistance)

    def position(self) -> tuple[float, float, float]:
        return (0.0, 0.0, self.z)

    def move_coarse(self, axis: str, steps: int) -> None:
        self.z += steps * 1e-7

    def move_fine(self, axis: str, distance: float) -> None:
        self.z += distance

    def approach_until_contact(self, threshold_current, probe_bias, step, max_travel) -> bool:
        self._hit("approach_until_contact", threshold_current, probe_bias, step, max_travel)
        n = min(self.contact_after, int(max_travel / step))
        self.z += n * step
        return self.contact_after * step <= max_travel

    def retract(self, distance: float) -> None:
        self.z -= distance


class FakeThermal(_Faulty, ThermalController):
    def __init__(self, name: str = "oven", start: float = 298.15, gain: float = 0.5) -> None:
        super().__init__(name)
        self._init_faults()
        self.gain = gain  # fraction of the error closed per read; > 1 overshoots
        self.temperature = start
        self.setpoint = start

    def set_temperature(self, temperature: float) -> None:
        self._hit("set_temperature", temperature)
        self.setpoint = temperature

    def read_temperature(self) -> float:
        self._hit("read_temperature")
        self.temperature += self.gain * (self.setpoint - self.temperature)
        return self.temperature

    @property
    def stable(self) -> bool:
        return abs(self.temperature - self.setpoint) < 0.1

    def safe_state(self) -> None:
        pass


class FakeFrames(_Faulty, FrameSource):
    def __init__(self, clock: Clock, name: str = "camera") -> None:
        super().__init__(name)
        self._init_faults()
        self.clock = clock
        self.running = False

    def start(self) -> None:
        self._hit("start")
        self.running = True

    def stop(self) -> None:
        self._hit("stop")
        self.running = False

    def poll(self) -> list[Frame]:
        self._hit("poll")
        if not self.running:
            return []
        return [Frame(self.clock.now(), np.zeros(self.frame_shape, dtype=np.uint16))]

    @property
    def frame_shape(self) -> tuple[int, int]:
        return (4, 6)

    def safe_state(self) -> None:
        self.stop()


class HandWall:
    """A wall-time source the test moves by hand; ``step`` > 0 also moves it by that much on
    every read (a wall that runs on, deterministically, as the clock consults it)."""

    def __init__(self, step: float = 0.0) -> None:
        self.t = 0.0
        self.step = step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


@dataclass
class FakeStation:
    """What the engine needs of a station: a clock and role attributes."""

    clock: Clock = field(default_factory=VirtualClock)
    potentiostat: FakePotentiostat | None = None
    pressure_rig: FakePressureRig | None = None
    bias_holder: FakeBiasHolder | None = None
    thermal: FakeThermal | None = None
    frame_source: FakeFrames | None = None

    @classmethod
    def full(cls, cell: FakeCell | None = None, clock: Clock | None = None) -> FakeStation:
        clock = clock or VirtualClock()
        return cls(clock, FakePotentiostat(clock, cell), FakePressureRig(), FakeBiasHolder(clock),
                   FakeThermal(), FakeFrames(clock))  # fmt: skip
