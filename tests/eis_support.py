"""One impedance sweep measured through the MethodSCRIPT driver on its twin over a pty."""

from __future__ import annotations

from typing import Any

from daq.clock import VirtualClock
from drivers.registry import open_driver
from drivers.roles import Spectrum
from sim_instruments.lineserver import PtyLineServer
from sim_instruments.methodscript import MethodScriptEmulator
from sim_instruments.world import SimConfig, SimWorld


def twin_sweep(preset: str, pressure_Pa: float, f_end: float, points: int,
               seed: int = 7) -> tuple[Spectrum, dict[str, Any]]:  # fmt: skip
    """A 200 kHz -> ``f_end`` sweep (10 mV at OCV) of a fresh cell, and the twin's circuit then."""
    clock = VirtualClock()
    world = SimWorld(clock, SimConfig(preset=preset, initial_pressure_Pa=pressure_Pa, seed=seed))
    server = PtyLineServer(MethodScriptEmulator(world))
    ms = open_driver("methodscript", "eis", server.port, {"timeout": "0.5 s"}, clock)
    try:
        measured = ms.measure_eis(2e5, f_end, points, 0.01)
    finally:
        ms.close()
        server.close()
    return measured, world.truth()["eis_sweeps"][-1]["circuit_start"]
