"""TEM holder end to end: piezo emulator over a pty + Keithley 2450 emulator over pyvisa-py TCP."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daq.clock import VirtualClock
from drivers.errors import (
    InstrumentError,
    InstrumentReportedError,
    SafetyWriteFailed,
    SetpointError,
)
from drivers.registry import open_driver
from drivers.tem_holder import parse_reply, parse_value
from sim_instruments.faults import Fault
from sim_instruments.holder_devices import PiezoControllerEmulator
from sim_instruments.keithley2450 import Keithley2450Emulator
from sim_instruments.lineserver import PtyLineServer, TcpLineServer
from sim_instruments.world import SimConfig, SimWorld

SETTINGS = {
    "travel": "5 um",
    "coarse_step": "30 nm",
    "step_voltage": "30 V",
    "fine_range": "2 um",
    "max_bias": "10 V",
    "max_current": "1 uA",
    "piezo": {"timeout": "0.3 s"},
    "smu": {"backend": "@py", "timeout": "0.3 s"},
}


@pytest.fixture
def lab():
    world = SimWorld(VirtualClock(), SimConfig(seed=6))
    piezo = PiezoControllerEmulator(world)
    smu = Keithley2450Emulator(world, channel="holder")
    piezo_server, smu_server = PtyLineServer(piezo), TcpLineServer(smu)
    resource = {"piezo": piezo_server.port, "smu": smu_server.visa_resource}
    holder = open_driver("tem_holder", "holder", resource, SETTINGS, world.clock)
    yield SimpleNamespace(world=world, piezo=piezo, smu=smu, holder=holder)
    holder.close()
    piezo_server.close()
    smu_server.close()


@pytest.fixture
def setup(lab):
    return lab.world, lab.piezo, lab.holder


def test_coarse_and_fine_moves_reach_the_world(setup):
    world, _, holder = setup
    z0 = world.holder_position()[2]
    holder.move_coarse("z", 10)
    holder.move_fine("z", 0.5e-6)
    assert world.holder_position()[2] - z0 == pytest.approx(10 * 30e-9 + 0.5e-6, rel=1e-6)
    assert holder.position()[2] == pytest.approx(0.8e-6)
    holder.retract(0.8e-6)
    assert world.holder_position()[2] - z0 == pytest.approx(0.0, abs=31e-9)


def test_approach_stops_on_the_current_threshold(setup):
    world, _, holder = setup
    holder.move_coarse("z", 60)  # 1.8 um of the 2 um gap
    contact = holder.approach_until_contact(5e-12, -2.0, 10e-9, 1.0e-6)
    assert contact
    assert world.holder_contact()
    assert abs(holder.read().current) >= 5e-12
    assert holder.position()[2] < 1.8e-6 + 1.0e-6


def test_approach_never_moves_beyond_max_travel(setup):
    world, _, holder = setup
    z0 = world.holder_position()[2]
    contact = holder.approach_until_contact(5e-12, -2.0, 20e-9, 0.5e-6)
    assert not contact
    assert world.holder_position()[2] - z0 <= 0.5e-6 + 1e-12
    assert not world.holder_contact()


def test_coarse_fine_approach_finds_contact_beyond_the_fine_range(setup):
    world, _, holder = setup
    z0 = world.holder_position()[2]
    assert holder.approach_until_contact(5e-12, -2.0, 20e-9, 3e-6)
    assert world.holder_contact()
    assert 2e-6 <= world.holder_position()[2] - z0 <= 2e-6 + 20e-9 + 1e-12
    assert holder.position()[2] == pytest.approx(world.holder_position()[2] - z0, abs=1e-12)


def test_coarse_fine_approach_stops_at_max_travel_without_contact(setup):
    world, _, holder = setup
    holder.move_coarse("z", -60)  # 3.8 um from the tubules now
    z0 = world.holder_position()[2]
    assert not holder.approach_until_contact(5e-12, -2.0, 20e-9, 3e-6)
    moved = world.holder_position()[2] - z0
    assert 3e-6 - 20e-9 - 1e-12 <= moved <= 3e-6 + 1e-12
    assert not world.holder_contact()


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        (lambda h: h.approach_until_contact(5e-12, -2.0, 10e-9, 6e-6), "max_travel"),
        (lambda h: h.approach_until_contact(5e-6, -2.0, 10e-9, 1e-6), "threshold_current"),
        (lambda h: h.approach_until_contact(5e-12, -20.0, 10e-9, 1e-6), "bias"),
        (lambda h: h.move_coarse("z", 200), "steps"),
        (lambda h: h.move_coarse("q", 1), "axis"),
        (lambda h: h.move_fine("x", -0.1e-6), "fine offset"),
        (lambda h: h.set_bias(2.0, 1e-3), "current_limit"),
        (lambda h: h.move_fine("z", 2.5e-6), "distance"),
    ],
)
def test_out_of_range_requests_move_nothing(setup, call, parameter):
    world, _, holder = setup
    before = world.holder_position()
    with pytest.raises(SetpointError) as info:
        call(holder)
    assert info.value.parameter == parameter and info.value.instrument == "holder"
    assert world.holder_position() == before


def test_bias_and_bias_off(setup):
    _, _, holder = setup
    holder.set_bias(2.0, 1e-7)
    assert holder.read().voltage == pytest.approx(2.0, abs=1e-3)
    holder.bias_off()
    assert holder.read().voltage == pytest.approx(0.0, abs=1e-3)


def test_piezo_short_circuit_is_reported_and_the_estimate_follows(setup):
    world, piezo, holder = setup
    z0 = world.holder_position()[2]
    holder.move_fine("z", 0.4e-6)
    piezo.faults.add(Fault(kind="error", match="stepu"))
    with pytest.raises(InstrumentReportedError, match="short circuit"):
        holder.move_coarse("z", 5)
    assert piezo.mode[3] == "gnd"
    assert holder.position()[2] == pytest.approx(world.holder_position()[2] - z0, abs=1e-12)
    holder.enable_axis("z")
    holder.move_coarse("z", 5)
    assert holder.position()[2] == pytest.approx(world.holder_position()[2] - z0, abs=1e-12)


@pytest.mark.parametrize("kind", ["timeout", "garble", "slow", "drop"])
def test_absolute_fine_moves_survive_transport_faults(setup, kind):
    world, piezo, holder = setup
    z0 = world.holder_position()[2]
    piezo.faults.add(Fault(kind=kind, match="seta 3", delay_s=0.1))
    holder.move_fine("z", 0.3e-6)
    assert world.holder_position()[2] - z0 == pytest.approx(0.3e-6, rel=1e-6)


def test_stuck_positioner_means_no_contact_within_travel(setup):
    world, piezo, holder = setup
    piezo.faults.add(Fault(kind="stuck", match="stepu"))
    holder.move_coarse("z", 60)
    assert holder.approach_until_contact(5e-12, -2.0, 20e-9, 1.0e-6) is False
    assert "ANC300" in holder.identity()


def test_a_step_move_whose_reply_is_lost_is_not_repeated(setup):
    world, piezo, holder = setup
    z0 = world.holder_position()[2]
    piezo.faults.add(Fault(kind="timeout", match="stepu"))
    with pytest.raises(InstrumentError):
        holder.move_coarse("z", 10)
    assert world.holder_position()[2] - z0 == pytest.approx(10 * 30e-9)  # executed once


LINE = st.text(alphabet="abcdefghij =.0123456789V", max_size=20)


@given(st.lists(LINE, max_size=3), st.sampled_from(["OK", "ERROR"]))
def test_parse_reply_splits_status_and_body(body, status):
    body = [line for line in body if line not in ("OK", "ERROR")]
    assert parse_reply([*body, status]) == (status == "OK", body)


@given(st.lists(st.sampled_from(["OK", "ERROR", "x = 1"]), max_size=4))
def test_parse_reply_rejects_anything_but_one_reply(lines):
    ok = bool(lines) and lines[-1] in ("OK", "ERROR") and lines.count("x = 1") == len(lines) - 1
    try:
        parse_reply(lines)
    except ValueError:
        assert not ok
    else:
        assert ok


@given(
    st.sampled_from(["voltage", "frequency", "mode"]),
    st.floats(0, 1e4),
    st.sampled_from(["V", "H", ""]),
)
def test_parse_value_takes_the_first_word_after_equals(name, value, unit):
    assert float(parse_value(f"{name} = {value:.6f} {unit}")) == pytest.approx(value, abs=1e-6)


@given(LINE)
def test_parse_value_only_raises_value_error(line):
    try:
        parse_value(line)
    except ValueError:
        pass


def test_bias_off_that_cannot_be_confirmed_is_loud(lab):
    lab.holder.set_bias(1.0, 1e-7)
    lab.smu.faults.add(Fault(kind="timeout", match="OUTP", times=-1))
    with pytest.raises(SafetyWriteFailed, match="output off"):
        lab.holder.bias_off()


def test_bias_off_survives_one_lost_reply(lab):
    lab.holder.set_bias(1.0, 1e-7)
    lab.smu.faults.add(Fault(kind="timeout", match="OUTP"))
    lab.holder.bias_off()
    assert lab.smu.output is False
