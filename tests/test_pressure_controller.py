"""Integrated pressure controller end to end over a pty against SimWorld, with faults."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daq.clock import VirtualClock
from drivers.errors import InstrumentReportedError, SafetyWriteFailed, SetpointError
from drivers.pressure_controller import parse_frame
from drivers.pressure_rig import SensorFault
from drivers.registry import open_driver
from sim_instruments.faults import Fault
from sim_instruments.lineserver import PtyLineServer
from sim_instruments.press_devices import PressureControllerEmulator
from sim_instruments.world import SimConfig, SimWorld


@pytest.fixture
def setup():
    clock = VirtualClock()
    world = SimWorld(clock, SimConfig(area_m2=1e-4, seed=2))
    device = PressureControllerEmulator(world, area_m2=1e-4, max_pressure_Pa=50e6)
    server = PtyLineServer(device)
    settings = {"max_pressure": "30 MPa", "timeout": "0.3 s"}
    rig = open_driver("pressure_controller", "pc", server.port, settings, clock)
    with clock.participant():
        yield world, device, rig
    rig.close()
    device.stop()
    server.close()


def run(world, rig, seconds):
    end = world.clock.now() + seconds
    while world.clock.now() < end:
        rig.service()
        world.clock.sleep(0.1)


def test_controller_regulates_to_the_setpoint_on_the_virtual_clock(setup):
    world, _, rig = setup
    rig.set_pressure(5e6, rate=2e6)
    run(world, rig, 10.0)
    assert rig.settled
    assert world.stack_force_true_N() / 1e-4 == pytest.approx(5e6, abs=0.05e6)
    assert rig.read().pressure == pytest.approx(5e6, abs=0.05e6)


def test_setpoints_beyond_the_station_limit_are_refused(setup):
    world, device, rig = setup
    with pytest.raises(SetpointError) as info:
        rig.set_pressure(35e6)
    assert info.value.parameter == "pressure" and "3e+07" in info.value.allowed
    with pytest.raises(SetpointError):
        rig.set_force(-1.0)
    with pytest.raises(SetpointError):
        rig.set_pressure(1e6, rate=0.0)
    assert device.setpoint_Pa == 0.0 and device.mode == "HLD"


def test_overload_code_in_the_frame_raises(setup):
    world, device, rig = setup
    rig.set_pressure(2e6)
    device.faults.add(Fault(kind="error", match=r"^A$"))
    with pytest.raises(InstrumentReportedError) as info:
        run(world, rig, 1.0)
    assert info.value.code == 7 and "overload" in info.value.text
    rig.clear_error()
    assert rig.frame.mode == "HLD" and rig.frame.error == 0
    rig.set_pressure(2e6)
    run(world, rig, 5.0)
    assert rig.settled


def test_frozen_frame_is_detected(setup):
    world, device, rig = setup
    rig.set_pressure(2e6)
    run(world, rig, 3.0)
    device.faults.add(Fault(kind="stuck", match=r"^A$", times=-1))
    with pytest.raises(SensorFault):
        run(world, rig, 3.0)
    assert device.mode == "HLD"


def test_spike_resets_the_settling_timer(setup):
    world, device, rig = setup
    rig.set_pressure(2e6)
    run(world, rig, 8.0)
    assert rig.settled
    device.faults.add(Fault(kind="spike", match=r"^A$", magnitude=50.0))
    rig.service()
    assert not rig.settled


def test_release_survives_a_lost_reply_and_is_verified(setup):
    world, device, rig = setup
    rig.set_pressure(3e6)
    run(world, rig, 5.0)
    device.faults.add(Fault(kind="timeout", match="AEX"))
    rig.release()
    assert device.mode == "EXH"
    assert world.stack_force_true_N() == pytest.approx(0.0, abs=1.0)


def test_release_that_cannot_be_confirmed_is_loud(setup):
    world, device, rig = setup
    device.faults.add(Fault(kind="timeout", times=-1))
    with pytest.raises(SafetyWriteFailed, match="release"):
        rig.release()


def test_identity_area_and_snapshot(setup):
    _, _, rig = setup
    assert "PRESSCTL" in rig.identity()
    assert rig.cell_area == pytest.approx(1e-4)
    assert rig.settings_snapshot()["max_pressure_Pa"] == pytest.approx(30e6)


@given(
    st.floats(-1e5, 1e5), st.floats(-999, 999), st.floats(0, 999), st.floats(-9, 9),
    st.sampled_from(["REG", "HLD", "EXH"]), st.integers(0, 99),
)  # fmt: skip
def test_parse_frame_round_trips(force, p, sp, pos, mode, err):
    line = f"A {force:+010.2f} {p:+08.3f} {sp:+08.3f} {pos:+09.4f} {mode}" + (
        f" E{err:02d}" if err else ""
    )
    frame = parse_frame(line)
    assert frame.force == pytest.approx(round(force, 2))
    assert frame.setpoint == pytest.approx(round(sp, 3) * 1e6)
    assert (frame.mode, frame.error) == (mode, err)


@given(st.text(max_size=40))
def test_parse_frame_rejects_junk_with_value_error(text):
    try:
        parse_frame(text)
    except ValueError:
        return
    assert text.split()[0] == "A"


@pytest.mark.parametrize("kind", ["timeout", "garble", "slow", "drop"])
def test_polling_survives_transport_faults(setup, kind):
    world, device, rig = setup
    rig.set_pressure(2e6)
    device.faults.add(Fault(kind=kind, match=r"^A$", delay_s=0.1, times=2))
    run(world, rig, 8.0)
    assert rig.settled


def test_slow_ramp_rates_are_set_exactly_and_too_slow_ones_refused(setup):
    _, device, rig = setup
    rig.set_pressure(1e6, rate=50.0)
    assert device.ramp_Pa_per_s == pytest.approx(50.0)
    with pytest.raises(SetpointError, match="rate"):
        rig.set_pressure(1e6, rate=0.5)
