"""MethodSCRIPT potentiostat end to end: driver -> pyserial -> pty / socket:// -> twin -> SimWorld."""

from __future__ import annotations

import math

import numpy as np
import pytest

from daq.clock import VirtualClock
from drivers.errors import (
    ConnectionLost,
    GarbledReply,
    InstrumentReportedError,
    InstrumentTimeout,
    SetpointError,
)
from drivers.registry import open_driver
from drivers.sweeps import eis_duration_estimate
from sim_instruments.faults import Fault
from sim_instruments.lineserver import PtyLineServer, TcpLineServer
from sim_instruments.methodscript import MethodScriptEmulator
from sim_instruments.world import SimConfig, SimWorld


def _open(kind: str, preset: str = "lpscl", pressure: float = 10e6, faults=()):
    clock = VirtualClock()
    world = SimWorld(clock, SimConfig(preset=preset, initial_pressure_Pa=pressure, seed=3))
    device = MethodScriptEmulator(world)
    for fault in faults:
        device.faults.add(fault)
    server = PtyLineServer(device) if kind == "pty" else TcpLineServer(device)
    url = server.port if kind == "pty" else server.serial_url
    settings = {"timeout": "0.5 s", "retries": 1, "max_voltage": "2 V", "max_current": "10 mA"}
    driver = open_driver("methodscript", "ms", url, settings, clock)
    return world, device, driver, server


@pytest.fixture(params=["pty", "tcp"])
def rig(request):
    world, device, driver, server = _open(request.param)
    yield world, device, driver
    driver.close()
    server.close()


def test_identity_and_galvanostatic_samples_on_the_run_clock(rig):
    world, _, ms = rig
    assert "EmStat4" in ms.identity() and "ES4SIM0001" in ms.identity()
    ms.set_current(1e-4, 2.0)
    ms.start_buffered(10.0)
    world.clock.sleep(3.0)
    block = ms.fetch()
    assert len(block.time) == 30
    np.testing.assert_allclose(np.diff(block.time), 0.1, rtol=1e-9)
    truth = world.truth()
    expected = np.interp(block.time, truth["t"], truth["V"])
    np.testing.assert_allclose(block.voltage, expected, atol=2e-4)
    np.testing.assert_allclose(block.current, 1e-4, rtol=1e-3)
    assert ms.mode == "galvanostatic"
    ms.set_voltage(0.01, 1e-3)
    ms.start_buffered(5.0)
    world.clock.sleep(1.0)
    assert ms.read().voltage == pytest.approx(0.01, abs=1e-3)
    ms.set_open_circuit()
    assert ms.mode == "open_circuit"
    ms.output_off()
    assert ms.mode == "off"


def test_eis_sweep_matches_the_cells_circuit_and_takes_sweep_time(rig):
    world, _, ms = rig
    t0 = world.clock.now()
    spectrum = ms.measure_eis(1e5, 0.1, 31, 0.01)
    assert spectrum.complete and len(spectrum.frequency) == 31
    assert spectrum.frequency[0] == pytest.approx(1e5) and spectrum.frequency[-1] == pytest.approx(0.1)  # fmt: skip
    sweep = world.truth()["eis_sweeps"][-1]
    took = sweep["end_s"] - sweep["start_s"]
    assert took == pytest.approx(eis_duration_estimate(1e5, 0.1, 31), rel=0.05)
    assert world.clock.now() - t0 >= took
    assert np.all(np.diff(spectrum.time) > 0)
    circuit = world.impedance_circuit()
    z = circuit.impedance(spectrum.frequency)
    np.testing.assert_allclose(spectrum.z_real, z.real, atol=0.02 * np.abs(z).max())
    np.testing.assert_allclose(spectrum.z_imag, z.imag, atol=0.02 * np.abs(z).max())
    assert np.all(spectrum.z_imag[:10] < 0)  # capacitive arc: Z'' < 0
    assert spectrum.dc_level == pytest.approx(0.0, abs=1e-3)  # at open circuit: OCV ~ 0 V
    assert world._mode == "off"  # the cell is left at open circuit


def test_galvanostatic_eis_and_voltammetry(rig):
    world, _, ms = rig
    spectrum = ms.measure_eis(1e4, 10, 7, 1e-4, 0.0, galvanostatic=True)
    assert spectrum.complete and spectrum.galvanostatic and len(spectrum.z_real) == 7
    assert world.truth()["eis_sweeps"][-1]["technique"] == "geis"
    lsv = ms.measure_lsv(0.0, 0.05, 0.005, 0.05)
    assert lsv.complete and len(lsv.potential) == 11
    assert lsv.potential[-1] == pytest.approx(0.05)
    assert lsv.current[-1] > lsv.current[1] > 0  # anodic current grows with the potential
    cv = ms.measure_cv(0.0, 0.02, -0.02, 0.005, 0.05, scans=2)
    assert cv.complete and cv.potential.min() == pytest.approx(-0.02)
    assert np.all(np.diff(cv.time) > 0)


def test_stop_during_a_sweep_leaves_open_circuit_and_a_partial_spectrum(rig):
    world, _, ms = rig
    seen = []
    spectrum = ms.measure_eis(1e5, 0.01, 41, 0.01,
                              should_stop=lambda: seen.append(1) or len(seen) > 40)  # fmt: skip
    assert not spectrum.complete and 0 < len(spectrum.frequency) < 41
    assert world._mode == "off"
    assert world.truth()["eis_sweeps"][-1]["aborted"]
    ms.set_open_circuit()  # the instrument accepts the next script
    assert ms.mode == "open_circuit"


BAD_CALLS = [
    ("set_current", (0.05, 2.0), "current"),  # beyond the instrument's 30 mA
    ("set_current", (0.02, 2.0), "current"),  # beyond the station's max_current 10 mA
    ("set_voltage", (2.5, 1e-3), "voltage"),  # beyond the station's 2 V
    ("set_current", (1e-4, float("nan")), "voltage_limit"),
    ("set_voltage", (0.1, 0.0), "current_limit"),
    ("measure_eis", (1e6, 1.0, 10, 0.01), "f_start"),
    ("measure_eis", (1e5, 1e-6, 10, 0.01), "f_end"),
    ("measure_eis", (1e5, 1.0, 0, 0.01), "points"),
    ("measure_eis", (1e5, 1.0, 10.0, 0.01), "points"),
    ("measure_eis", (1e5, 1.0, 10, 0.5), "amplitude"),
    ("measure_eis", (1e5, 1.0, 10, 0.01, 2.5), "dc_level"),
    ("measure_lsv", (0.0, 2.5, 0.01, 0.1), "stop"),
    ("measure_lsv", (0.0, 0.5, 0.01, 100.0), "rate"),
    ("measure_cv", (0.0, 0.5, -0.5, 0.01, 0.1, 0), "scans"),
    ("start_buffered", (5000.0,), "rate"),
]


@pytest.mark.parametrize(("method", "args", "parameter"), BAD_CALLS)
def test_bad_settings_are_refused_before_anything_is_sent(rig, method, args, parameter):
    _, device, ms = rig
    if method == "start_buffered":
        ms.set_open_circuit()
    before = len(device.received)
    with pytest.raises(SetpointError) as info:
        getattr(ms, method)(*args)
    assert info.value.parameter == parameter and info.value.instrument == "ms"
    assert len(device.received) == before


def test_max_duration_shorter_than_the_sweep_is_refused(rig):
    _, device, ms = rig
    before = len(device.received)
    with pytest.raises(SetpointError, match="estimated"):
        ms.measure_eis(1e5, 0.01, 50, 0.01, max_duration=60.0)
    assert len(device.received) == before


def test_unsupported_commands_and_bad_scripts_get_the_instruments_error(rig):
    _, _, ms = rig
    assert ms.transport.query("x") == "!0003"
    with pytest.raises(InstrumentReportedError) as info:
        ms._execute(["var p", "set_bogus 1", "meas_loop_ocp p 100m 1"])
    assert info.value.code == 3 and "line 2" in str(info.value)
    with pytest.raises(InstrumentReportedError) as info:
        ms._execute(["var p", "meas_loop_ocp p 100m"])
    assert info.value.code == 4
    assert ms.transport.query("r") == "!0007"  # nothing loaded


FAULTS = [
    (Fault(kind="timeout", match="meas_loop_eis"), InstrumentTimeout),
    (Fault(kind="garble", match="meas_loop_eis"), GarbledReply),
    (Fault(kind="error", match="meas_loop_eis"), InstrumentReportedError),
]


@pytest.mark.parametrize("kind", ["pty", "tcp"])
@pytest.mark.parametrize(("fault", "error"), FAULTS, ids=lambda f: getattr(f, "kind", ""))
def test_faults_during_a_sweep_become_typed_errors(kind, fault, error):
    world, _, ms, server = _open(kind, faults=[fault])
    try:
        with pytest.raises(error):
            ms.measure_eis(1e4, 10, 5, 0.01, 0.0)
        ms.transport.reconnect()
        ms.output_off()  # the instrument is usable again and the cell is off
        assert world._mode == "off"
    finally:
        ms.close()
        server.close()


def test_dropped_link_is_connection_lost_over_tcp():
    world, _, ms, server = _open("tcp", faults=[Fault(kind="drop", match="meas_loop_eis")])
    try:
        with pytest.raises((ConnectionLost, InstrumentTimeout)):
            ms.measure_eis(1e4, 10, 5, 0.01, 0.0)
        spectrum = ms.measure_eis(1e4, 10, 5, 0.01, 0.0)  # reconnects on the next exchange
        assert spectrum.complete
    finally:
        ms.close()
        server.close()


@pytest.mark.parametrize("kind", ["pty", "tcp"])
def test_stuck_spike_and_slow_faults_show_in_the_data(kind):
    faults = [Fault(kind="stuck", match="meas_loop_eis"),
              Fault(kind="spike", match="meas_loop_geis", magnitude=1e3),
              Fault(kind="slow", match="meas_loop_lsv", delay_s=0.2)]  # fmt: skip
    world, _, ms, server = _open(kind, faults=faults)
    try:
        stuck = ms.measure_eis(1e4, 10, 5, 0.01, 0.0)
        assert len(set(stuck.frequency)) == 1  # every package repeats the first
        spiked = ms.measure_eis(1e4, 10, 5, 1e-4, 0.0, galvanostatic=True)
        assert spiked.frequency[0] == pytest.approx(1e4 + 1e3)
        assert ms.measure_lsv(0.0, 0.01, 0.005, 0.05).complete
    finally:
        ms.close()
        server.close()


def test_short_collapses_the_spectrum_and_reactive_interphase_grows():
    clock = VirtualClock()
    world = SimWorld(clock, SimConfig(preset="latp", seed=1))
    first = world.impedance_circuit()
    clock.advance(40 * 3600.0)
    later = world.impedance_circuit()
    assert later.r_interface_total > 2 * first.r_interface_total
    world.cell.short_state = 2  # a welded filament: the electronic path takes over
    shorted = world.impedance_circuit().impedance(np.array([1e4, 1.0]))
    assert np.all(np.abs(shorted) < 1.01) and math.isfinite(shorted[0].real)


def test_a_sweep_polled_step_by_step_as_the_engine_does(rig):
    world, _, ms = rig
    estimate = ms.start_eis(1e4, 1.0, 9, 0.01, 0.0)
    assert ms.mode == "potentiostatic" and not ms.sweep_done
    points = []
    while not ms.sweep_done:
        points += ms.poll_sweep()
        world.clock.sleep(0.1)  # an engine tick
    assert len(points) == 9 and ms.sweep_result().complete
    assert points[-1][0] - points[0][0] == pytest.approx(estimate - estimate_first(1e4), abs=0.3)
    assert set(points[0][1]) == {"frequency", "z_real", "z_imag"}  # the role's names
    with pytest.raises(SetpointError, match="estimated 1.7 s"):
        ms.start_cv(0.0, 0.02, -0.02, 0.005, 0.05, max_duration=1.0)
    ms.start_cv(0.0, 0.02, -0.02, 0.005, 0.05, max_duration=2.0)
    for _ in range(6):
        ms.poll_sweep()
        world.clock.sleep(0.1)
    ms.stop_sweep()  # the engine's abort
    partial = ms.sweep_result()
    assert not partial.complete and 0 < len(partial.time) < 17 and world._mode == "off"


def estimate_first(f: float) -> float:
    return eis_duration_estimate(f, f, 1)
