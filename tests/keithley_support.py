"""Shared set-up for the Keithley 2450 tests: SimWorld + emulator + TCP server + driver."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import pyvisa

from daq.clock import VirtualClock
from drivers.keithley2450 import Keithley2450, open_keithley2450
from sim_instruments.faults import Fault, FaultInjector
from sim_instruments.keithley2450 import Keithley2450Emulator
from sim_instruments.lineserver import TcpLineServer
from sim_instruments.world import SimConfig, SimWorld


@dataclass
class Bench:
    """One simulated station: the world, its 2450 emulator, the server and (maybe) a driver."""

    clock: VirtualClock
    world: SimWorld
    emulator: Keithley2450Emulator
    server: TcpLineServer
    driver: Keithley2450 | None = None

    @property
    def resource(self) -> str:
        return self.server.visa_resource

    def add_fault(self, **spec) -> None:
        self.emulator.faults.add(Fault(**spec))

    def sent_since(self, mark: int) -> list[str]:
        """Command lines the emulator received after ``mark`` = len(received) earlier."""
        return list(self.emulator.received)[mark:]


@contextmanager
def bench(
    settings: dict | None = None,
    channel: str = "cell",
    seed: int = 0,
    open_driver: bool = True,
    **config,
):
    """A running station; the driver is opened with short timeouts unless told otherwise."""
    clock = VirtualClock()
    world = SimWorld(clock, SimConfig(seed=seed, **config))
    emulator = Keithley2450Emulator(world, FaultInjector(seed=seed), channel=channel)
    server = TcpLineServer(emulator)
    b = Bench(clock, world, emulator, server)
    try:
        if open_driver:
            merged = {"timeout": "0.5 s", "backend": "@py", "buffer_size": 20_000}
            merged.update(settings or {})
            b.driver = open_keithley2450("cell", server.visa_resource, merged, clock)
        yield b
    finally:
        if b.driver is not None:
            b.driver.close()
        server.close()


@contextmanager
def raw_visa(resource: str, timeout_ms: int = 2000):
    """A plain pyvisa-py session, as a third-party program would open it."""
    rm = pyvisa.ResourceManager("@py")
    inst = rm.open_resource(
        resource, read_termination="\n", write_termination="\n", timeout=timeout_ms
    )
    try:
        yield inst
    finally:
        inst.close()
