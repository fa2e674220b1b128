"""The simulated lab: one SimWorld on one clock, and emulators served on loopback on demand.

A station instrument whose resource is ``sim://...`` asks the lab for its twin; the lab starts
the emulator(s) speaking the real wire protocol and returns the resource string(s) the real
driver then opens — the same code path as on the bench.

The station file's ``simulation`` section configures the world, with units where physical::

    simulation: {preset: llzo, cell: symmetric, area: 1 cm2, thickness: 1 mm,
                 temperature: 25 degC, initial_pressure: 0 MPa, seed: 1,
                 transport: pty, faults: {keithley2450: [{kind: timeout, match: "READ"}]}}
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from daq.clock import Clock
from daq.units import parse_quantity
from sim_instruments.camera import SimCameraExporter
from sim_instruments.faults import FaultInjector
from sim_instruments.holder_devices import PiezoControllerEmulator
from sim_instruments.keithley2450 import Keithley2450Emulator
from sim_instruments.lineserver import LineDevice, PtyLineServer, TcpLineServer
from sim_instruments.press_devices import (
    LoadCellIndicatorEmulator,
    PressureControllerEmulator,
    ScrewActuatorEmulator,
)
from sim_instruments.thermal_device import ThermalControllerEmulator
from sim_instruments.world import SimConfig, SimWorld

#: station-file key -> (SimConfig field, quantity kind or None for plain values)
_CONFIG_KEYS: dict[str, tuple[str, str | None]] = {
    "preset": ("preset", None),
    "cell": ("cell", None),
    "seed": ("seed", None),
    "tubule_metal": ("tubule_metal", None),
    "tubule_count": ("tubule_count", None),
    "area": ("area_m2", "area"),
    "thickness": ("thickness_m", "length"),
    "temperature": ("temperature_K", "temperature"),
    "initial_pressure": ("initial_pressure_Pa", "pressure"),
    "noise": ("noise_V", "voltage"),
}
#: keys of the simulation section read by the lab or the station rather than the world
_LAB_KEYS = {"acceleration", "transport", "faults", "camera_period"}
KINDS = (
    "keithley2450",
    "loadcell_actuator",
    "pressure_controller",
    "tem_holder",
    "thermal",
    "camera",
)


def sim_config(simulation: dict[str, Any]) -> SimConfig:
    """Build the world's SimConfig from a station's ``simulation`` section (unit strings ok)."""
    unknown = set(simulation) - set(_CONFIG_KEYS) - _LAB_KEYS
    if unknown:
        known = ", ".join(sorted({*_CONFIG_KEYS, *_LAB_KEYS}))
        raise ValueError(f"simulation: unknown key(s) {', '.join(sorted(unknown))}; known: {known}")
    fields: dict[str, Any] = {}
    for key, (attr, kind) in _CONFIG_KEYS.items():
        if key in simulation:
            value = simulation[key]
            fields[attr] = parse_quantity(value, kind, f"simulation.{key}") if kind else value
    config = SimConfig(**fields)
    config.validate()
    return config


class SimLab:
    """Owns the world and every emulator server; close() stops them all."""

    def __init__(self, clock: Clock, simulation: dict[str, Any] | None = None) -> None:
        simulation = dict(simulation or {})
        self.world = SimWorld(clock, sim_config(simulation))
        self.transport = simulation.get("transport", "pty")
        if self.transport not in ("pty", "tcp"):
            raise ValueError(f"simulation.transport: 'pty' or 'tcp', got {self.transport!r}")
        self._faults: dict[str, list[dict[str, Any]]] = dict(simulation.get("faults") or {})
        self._camera_period = parse_quantity(
            simulation.get("camera_period", "1 s"), "time", "simulation.camera_period"
        )
        self._seed = self.world.config.seed
        self._servers: list[TcpLineServer | PtyLineServer] = []
        self._threads: list[Any] = []  # emulators with their own loops (controller, camera)
        self.devices: dict[str, LineDevice] = {}
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def clock(self) -> Clock:
        return self.world.clock

    def faults_for(self, kind: str) -> FaultInjector:
        """A seeded injector holding the faults the station file scripts for ``kind``."""
        return FaultInjector(seed=self._seed, faults=[dict(f) for f in self._faults.get(kind, [])])

    def _serial(self, device: LineDevice) -> str:
        """Serve a serial-type device on a pty (default) or loopback TCP; return its port."""
        if self.transport == "tcp":
            server = TcpLineServer(device)
            self._servers.append(server)
            return server.serial_url
        pty = PtyLineServer(device)
        self._servers.append(pty)
        return pty.port

    def _visa(self, device: LineDevice) -> str:
        server = TcpLineServer(device)
        self._servers.append(server)
        return server.visa_resource

    def serve(
        self, kind: str, name: str, settings: dict[str, Any] | None = None
    ) -> str | dict[str, str]:
        """Start the twin of ``kind`` for station instrument ``name``; return its resource(s)."""
        world = self.world
        if kind == "keithley2450":
            device = Keithley2450Emulator(world, self.faults_for(kind))
            self.devices[name] = device
            return self._visa(device)
        if kind == "loadcell_actuator":
            loadcell = LoadCellIndicatorEmulator(world, self.faults_for("loadcell"))
            actuator = ScrewActuatorEmulator(world, self.faults_for("actuator"))
            self.devices[f"{name}.loadcell"] = loadcell
            self.devices[f"{name}.actuator"] = actuator
            return {"loadcell": self._serial(loadcell), "actuator": self._serial(actuator)}
        if kind == "pressure_controller":
            controller = PressureControllerEmulator(
                world, self.faults_for(kind), area_m2=world.config.area_m2
            )
            controller.start()
            self._threads.append(controller)
            self.devices[name] = controller
            return self._serial(controller)
        if kind == "tem_holder":
            piezo = PiezoControllerEmulator(world, self.faults_for("piezo"))
            smu = Keithley2450Emulator(world, self.faults_for("holder_smu"), channel="holder")
            self.devices[f"{name}.piezo"] = piezo
            self.devices[f"{name}.smu"] = smu
            return {"piezo": self._serial(piezo), "smu": self._visa(smu)}
        if kind == "thermal":
            device = ThermalControllerEmulator(world, self.faults_for(kind))
            self.devices[name] = device
            return self._serial(device)
        if kind == "camera":
            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="ssbench-sim-camera-")
            folder = Path(self._tmp.name) / name
            exporter = SimCameraExporter(world, folder, period_s=self._camera_period)
            exporter.start()
            self._threads.append(exporter)
            return str(folder)
        raise ValueError(f"no simulated twin of kind {kind!r}; known: {', '.join(KINDS)}")

    def close(self) -> None:
        for emulator in self._threads:
            emulator.stop()
        for server in self._servers:
            server.close()
        self._threads.clear()
        self._servers.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
