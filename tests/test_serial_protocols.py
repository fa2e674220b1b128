"""The serial emulators as a third-party client sees them: raw pyserial, documented lines."""

from __future__ import annotations

import pytest
import serial

from daq.clock import VirtualClock
from sim_instruments.faults import Fault
from sim_instruments.holder_devices import PiezoControllerEmulator
from sim_instruments.lineserver import PtyLineServer, TcpLineServer
from sim_instruments.press_devices import (
    LoadCellIndicatorEmulator,
    PressureControllerEmulator,
    ScrewActuatorEmulator,
)
from sim_instruments.thermal_device import ThermalControllerEmulator
from sim_instruments.world import SimConfig, SimWorld


@pytest.fixture
def world():
    return SimWorld(VirtualClock(), SimConfig(seed=8))


class Raw:
    """A plain pyserial client on a pty or ``socket://`` link."""

    def __init__(self, device, out_term: bytes, wire: str = "tcp"):
        self.server = TcpLineServer(device) if wire == "tcp" else PtyLineServer(device)
        url = self.server.serial_url if wire == "tcp" else self.server.port
        self.port = serial.serial_for_url(url, timeout=0.5)
        self.out_term = out_term

    def ask(self, line: str, lines: int = 1) -> list[str]:
        self.port.write(line.encode() + self.out_term)
        return [self.port.read_until(b"\r\n").decode().rstrip("\r\n") for _ in range(lines)]

    def ask_cr(self, line: str) -> str:
        self.port.write(line.encode() + self.out_term)
        return self.port.read_until(b"\r").decode().rstrip("\r")

    def close(self):
        self.port.close()
        self.server.close()


@pytest.mark.parametrize("wire", ["tcp", "pty"])
def test_loadcell_gcl2_lines(world, wire):
    raw = Raw(LoadCellIndicatorEmulator(world), b"\r\n", wire)
    try:
        value, unit = raw.ask("?C")[0].split()
        assert unit == "N" and abs(float(value)) < 5.0  # unloaded stack: noise and drift only
        assert raw.ask("LBF") == ["R"]
        assert raw.ask("?")[0].endswith(" LBF")
        assert raw.ask("RM") == ["SIM-LC5000"]
        assert raw.ask("XYZ") == ["*10"]
        assert raw.ask("Z") == ["R"]
    finally:
        raw.close()


def test_zaber_ascii_lines(world):
    raw = Raw(ScrewActuatorEmulator(world), b"\n")
    try:
        assert raw.ask("/1 1 move abs 4000") == ["@01 1 OK BUSY -- 0"]
        assert raw.ask("/1 1 move abs 99999999") == ["@01 1 RJ BUSY -- BADDATA"]
        assert raw.ask("/1 1 jump") == ["@01 1 RJ BUSY -- BADCOMMAND"]
        assert raw.ask("/1 5 get pos") == ["@01 5 RJ BUSY -- BADAXIS"]
        world.clock.advance(5.0)
        reply = raw.ask("/1 1 get pos")[0]
        assert reply.startswith("@01 1 OK IDLE -- ")
        assert raw.ask("/1 0 get deviceid") == ["@01 0 OK IDLE -- 50081"]
        raw.port.write(b"/2 1 get pos\n")  # another device on the chain: no reply
        assert raw.port.read_until(b"\r\n") == b""
    finally:
        raw.close()


def test_zaber_stop_interrupts_a_running_move(world):
    raw = Raw(ScrewActuatorEmulator(world), b"\n")
    try:
        raw.ask("/1 1 move abs 10000")
        world.clock.advance(1.0)  # 2000 steps/s: half way
        assert raw.ask("/1 1 stop") == ["@01 1 OK IDLE NI 0"]
        world.clock.advance(5.0)
        assert raw.ask("/1 1 get pos") == ["@01 1 OK IDLE -- 2000"]
    finally:
        raw.close()


def test_pressure_controller_lines(world):
    device = PressureControllerEmulator(world)
    raw = Raw(device, b"\r")
    try:
        frame = raw.ask_cr("A").split()
        assert frame[0] == "A" and frame[-1] == "HLD" and len(frame) == 6
        assert raw.ask_cr("AS 500") == "?"  # above AMAX
        assert raw.ask_cr("ASR 2.5") == "A SR 2.500000"
        assert raw.ask_cr("AMAX") == "A MAX 100.000"
        assert raw.ask_cr("AFOO") == "?"
        raw.port.write(b"B\r")  # another unit id: no reply
        assert raw.port.read_until(b"\r") == b""
        assert raw.ask_cr("AS 1.5").split()[3:6:2] == ["+001.500", "REG"]
    finally:
        device.stop()
        raw.close()


def test_anc300_lines(world):
    device = PiezoControllerEmulator(world)
    raw = Raw(device, b"\r\n")
    try:
        assert raw.ask("stepu 3 10", 2) == ["Axis in wrong mode", "ERROR"]
        assert raw.ask("setm 3 stp+") == ["OK"]
        assert raw.ask("getv 3", 2) == ["voltage = 30.000000 V", "OK"]
        z0 = world.holder_position()[2]
        assert raw.ask("stepu 3 10") == ["OK"]
        assert raw.ask("seta 3 75") == ["OK"]
        assert world.holder_position()[2] - z0 == pytest.approx(300e-9 + 1e-6)
        assert raw.ask("setm 3 gnd") == ["OK"]  # grounding drops the offset
        assert world.holder_position()[2] - z0 == pytest.approx(300e-9)
        assert raw.ask("seta 3 200", 2) == ["Parameter out of range 200.0", "ERROR"]
        assert raw.ask("setm 7 stp", 2) == ["Invalid axis 7", "ERROR"]
    finally:
        raw.close()


def test_lakeshore_lines(world):
    raw = Raw(ThermalControllerEmulator(world), b"\r\n")
    try:
        assert raw.ask("*IDN?")[0].startswith("LSCI,MODEL335,")
        raw.port.write(b"SETP 1,330\r\n")
        raw.port.write(b"RANGE 1,2\r\n")
        assert raw.ask("*ESR?") == ["0"]
        assert raw.ask("SETP? 1") == ["+330.000"]
        raw.port.write(b"SETP 1,900\r\n")
        assert raw.ask("*ESR?") == ["16"]
        raw.port.write(b"BOGUS\r\n")
        assert raw.ask("*ESR?") == ["32"]
        world.clock.advance(3600.0)
        assert float(raw.ask("KRDG? A")[0]) == pytest.approx(330.0, abs=1.0)
        assert raw.ask("RDGST? A") == ["000"]
    finally:
        raw.close()


def test_stuck_reading_freezes_at_the_previous_value_and_recovers(world):
    device = LoadCellIndicatorEmulator(world)
    raw = Raw(device, b"\r\n")
    try:
        first = raw.ask("?C")[0]
        device.faults.add(Fault(kind="stuck", match=r"\?C", times=2))
        assert raw.ask("?C") == raw.ask("?C") == [first]
        fresh = [raw.ask("?C")[0] for _ in range(3)]
        assert len(set(fresh)) > 1  # noisy again
        device.faults.add(Fault(kind="stuck", match=r"\?C"))
        assert raw.ask("?C") == [fresh[-1]]  # a new episode freezes at the new value
    finally:
        raw.close()
