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

import sys
import tempfile
from pathlib import Path
from typing import Any

from daq.clock import Clock
from daq.units import UnitError, parse_quantity
from drivers.settings import did_you_mean
from sim_instruments.camera import SimCameraExporter
from sim_instruments.faults import FaultInjector, fault_problems
from sim_instruments.holder_devices import PiezoControllerEmulator
from sim_instruments.keithley2450 import Keithley2450Emulator
from sim_instruments.lineserver import LineDevice, PtyLineServer, TcpLineServer
from sim_instruments.methodscript import MethodScriptEmulator
from sim_instruments.press_devices import (
    LoadCellIndicatorEmulator,
    PressureControllerEmulator,
    ScrewActuatorEmulator,
)
from sim_instruments.thermal_device import ThermalControllerEmulator
from sim_instruments.world import SimConfig, SimWorld

#: (key in the simulation section, problem, offending value or None)
Problem = tuple[str, str, Any]
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
    "cathode_loading": ("cathode_loading_kg_per_m2", "areal_mass"),
    "li_excess": ("li_excess", "dimensionless"),
    "penetration_after": ("penetration_after_C_per_m2", "areal_capacity"),
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
    "methodscript",
)


#: keys of ``simulation.faults``: the fault scripts each twin (or part of one) reads
FAULT_TARGETS = (
    "keithley2450", "loadcell", "actuator", "pressure_controller", "piezo", "holder_smu", "thermal",
    "methodscript",
)  # fmt: skip


def _world_fields(simulation: dict[str, Any], problems: list[Problem]) -> dict[str, Any]:
    """SimConfig fields from the station keys, unit strings parsed; bad ones go to ``problems``."""
    fields: dict[str, Any] = {}
    for key, (attr, kind) in _CONFIG_KEYS.items():
        if key not in simulation:
            continue
        value = simulation[key]
        try:
            fields[attr] = parse_quantity(value, kind, f"simulation.{key}") if kind else value
        except UnitError as exc:
            problems.append((key, exc.problem, value))
    try:  # bad values above are left out, so the rest is still checked
        SimConfig(**fields).validate()
    except ValueError as exc:  # "SimConfig.<attr>: problem" -> the station key that set it
        attr, _, message = str(exc).removeprefix("SimConfig.").partition(": ")
        key = next((k for k, (a, _) in _CONFIG_KEYS.items() if a == attr), attr)
        problems.append((key, message, simulation.get(key)))
    return fields


def _lab_problems(simulation: dict[str, Any]) -> list[Problem]:
    """Problems with the keys the lab and the clock read (transport, period, faults, pace)."""
    problems: list[Problem] = []
    transport = simulation.get("transport", "pty")
    if transport not in ("pty", "tcp"):
        problems.append(("transport", "must be 'pty' or 'tcp'", transport))
    try:
        parse_quantity(simulation.get("camera_period", "1 s"), "time", "simulation.camera_period")
    except UnitError as exc:
        problems.append(("camera_period", exc.problem, simulation["camera_period"]))
    pace = simulation.get("acceleration")
    if pace is not None and (isinstance(pace, bool) or not isinstance(pace, int | float) or pace <= 0):  # fmt: skip
        problems.append(("acceleration", "must be a number > 0 (simulated s per real s)", pace))
    faults = simulation.get("faults") or {}
    if not isinstance(faults, dict):
        problems.append(("faults", "expected a mapping of twin -> list of faults", None))
        faults = {}
    for target, scripted in faults.items():
        if target not in FAULT_TARGETS:
            hint = did_you_mean(target, FAULT_TARGETS) or f"; known: {', '.join(FAULT_TARGETS)}"
            problems.append((f"faults.{target}", f"unknown twin{hint}", None))
        elif not isinstance(scripted, list):
            problems.append((f"faults.{target}", "expected a list of fault mappings", None))
        else:
            for index, spec in enumerate(scripted):
                for key, message, value in fault_problems(spec):
                    where = f"faults.{target}.{index}" + (f".{key}" if key else "")
                    problems.append((where, message, value))
    return problems


def simulation_problems(simulation: dict[str, Any]) -> list[Problem]:
    """(key, problem, value) for everything wrong in a station's ``simulation`` section."""
    known = {*_CONFIG_KEYS, *_LAB_KEYS}
    problems: list[Problem] = [
        (
            key,
            f"unknown key{did_you_mean(key, known) or '; known: ' + ', '.join(sorted(known))}",
            None,
        )  # fmt: skip
        for key in simulation
        if key not in known
    ]
    _world_fields(simulation, problems)
    return problems + _lab_problems(simulation)


def sim_config(simulation: dict[str, Any]) -> SimConfig:
    """Build the world's SimConfig from a station's ``simulation`` section (unit strings ok)."""
    problems = simulation_problems(simulation)
    if problems:
        raise ValueError("; ".join(f"simulation.{key}: {message}" for key, message, _ in problems))
    return SimConfig(**_world_fields(simulation, []))


#: the interpreter's thread switch interval (s) while a lab is open: every query to a twin is
#: a hand-over between the engine's thread and the twin's server thread in this process, and
#: at Python's default 5 ms a busy thread can hold the GIL that long per hand-over; measured
#: with bench/bench_sim_run.py (plating/stripping on the rig station: 313x -> 652x under load)
SWITCH_INTERVAL_S = 2e-4


class SimLab:
    """Owns the world and every emulator server; close() stops them all."""

    def __init__(self, clock: Clock, simulation: dict[str, Any] | None = None) -> None:
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, SWITCH_INTERVAL_S))
        simulation = dict(simulation or {})
        self.world = SimWorld(clock, sim_config(simulation))
        self.transport = simulation.get("transport", "pty")
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
        if kind == "methodscript":
            device = MethodScriptEmulator(world, self.faults_for(kind))
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
        sys.setswitchinterval(self._switch_interval)
