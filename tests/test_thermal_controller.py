"""Thermal controller end to end: driver -> pyserial -> pty / socket:// -> emulator -> SimWorld."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daq.clock import VirtualClock
from drivers.errors import InstrumentReportedError, SafetyWriteFailed, SetpointError
from drivers.registry import open_driver
from drivers.thermal import SensorFrozen, parse_temperature
from sim_instruments.faults import Fault
from sim_instruments.lineserver import PtyLineServer, TcpLineServer
from sim_instruments.thermal_device import ThermalControllerEmulator
from sim_instruments.world import SimConfig, SimWorld


@pytest.fixture(params=["pty", "tcp"])
def setup(request):
    clock = VirtualClock()
    world = SimWorld(clock, SimConfig(seed=4))
    device = ThermalControllerEmulator(world)
    server = PtyLineServer(device) if request.param == "pty" else TcpLineServer(device)
    url = server.port if request.param == "pty" else server.serial_url
    settings = {"max_temperature": "80 degC", "tolerance": "0.5 K", "settle_time": "60 s",
                "timeout": "0.3 s", "retries": 1}  # fmt: skip
    thermal = open_driver("thermal_controller", "oven", url, settings, clock)
    yield world, device, thermal
    thermal.close()
    server.close()


def soak(world, thermal, seconds, step=30.0):
    end = world.clock.now() + seconds
    while world.clock.now() < end:
        thermal.read_temperature()
        world.clock.sleep(step)


def test_reaches_and_holds_a_setpoint(setup):
    world, _, thermal = setup
    thermal.set_temperature(328.15)
    soak(world, thermal, 4 * 3600)
    assert thermal.read_temperature() == pytest.approx(328.15, abs=0.5)
    assert thermal.stable
    assert "MODEL335" in thermal.identity()


@pytest.mark.parametrize("value", [400.0, 150.0, float("nan"), "300"])
def test_setpoints_outside_limits_are_refused_and_not_sent(setup, value):
    _, device, thermal = setup
    before = device.setpoint_K
    with pytest.raises(SetpointError) as info:
        thermal.set_temperature(value)
    assert info.value.instrument == "oven" and info.value.parameter == "temperature"
    assert device.setpoint_K == before


def test_instrument_execution_error_is_read_from_the_status_register(setup):
    _, device, thermal = setup
    device.low = 330.0  # the stage now refuses 320 K although our limits allow it
    with pytest.raises(InstrumentReportedError) as info:
        thermal.set_temperature(320.0)
    assert info.value.code == 16


def test_invalid_reading_raises_with_status(setup):
    _, device, thermal = setup
    device.faults.add(Fault(kind="error", match="KRDG"))
    with pytest.raises(InstrumentReportedError) as info:
        thermal.read_temperature()
    assert info.value.code == 1


def test_frozen_reading_away_from_setpoint_is_detected(setup):
    world, device, thermal = setup
    thermal.set_temperature(330.0)
    device.faults.add(Fault(kind="stuck", match="KRDG", times=-1))
    with pytest.raises(SensorFrozen):
        soak(world, thermal, 600.0)


def test_spike_breaks_stability(setup):
    world, device, thermal = setup
    soak(world, thermal, 120.0)
    assert thermal.stable
    device.faults.add(Fault(kind="spike", match="KRDG", magnitude=5.0))
    thermal.read_temperature()
    assert not thermal.stable


@pytest.mark.parametrize("kind", ["timeout", "garble", "drop", "slow"])
def test_transport_faults_on_reads_are_retried(setup, kind):
    _, device, thermal = setup
    device.faults.add(Fault(kind=kind, match="KRDG", delay_s=0.1))
    assert thermal.read_temperature() == pytest.approx(298.15, abs=1.0)


def test_heater_off_is_verified(setup):
    _, device, thermal = setup
    device.faults.add(Fault(kind="timeout", match="RANGE\\?"))
    thermal.safe_state()
    assert device.heater_range == 0


def test_heater_off_that_cannot_be_confirmed_is_loud(setup):
    _, device, thermal = setup
    device.faults.add(Fault(kind="timeout", match="RANGE\\?", times=-1))
    with pytest.raises(SafetyWriteFailed, match="heater off"):
        thermal.safe_state()


@given(st.floats(0, 1999.999))
def test_parse_temperature_round_trips(value):
    assert parse_temperature(f"+{value:.3f}") == pytest.approx(round(value, 3))


@given(st.text(max_size=12))
def test_parse_temperature_only_raises_value_error(text):
    with contextlib.suppress(ValueError):
        assert 0 <= parse_temperature(text) < 2000
