"""``eis`` / ``lsv`` / ``cv`` steps and the EIS template options, on the MethodSCRIPT twin."""

from __future__ import annotations

import math

import numpy as np
import pytest
from protocols_fakes import FakeStation
from protocols_helpers import run_yaml

from daq.clock import VirtualClock
from drivers.registry import open_driver
from drivers.sweeps import OCV_SETTLE_S, eis_duration_estimate
from protocols.estimate import estimate
from protocols.loader import ProtocolError, load_protocol_text
from protocols.templates import PlatingStripping, PressureSchedule
from sim_instruments.lineserver import PtyLineServer
from sim_instruments.methodscript import MethodScriptEmulator
from sim_instruments.world import SimConfig, SimWorld

HEAD = """\
name: eis
sample: {area: 1 cm2}
limits: {voltage: {min: -1 V, max: 1 V}, current: 10 mA}
"""
SWEEP = "{type: eis, f_start: 100 kHz, f_end: 1 Hz, points_per_decade: 4, amplitude: 10 mV}"


@pytest.fixture
def twin():
    clock = VirtualClock()
    world = SimWorld(clock, SimConfig(preset="lpscl", initial_pressure_Pa=10e6, seed=2))
    server = PtyLineServer(MethodScriptEmulator(world))
    ms = open_driver("methodscript", "cell", server.port, {"timeout": "0.5 s"}, clock)
    yield world, FakeStation(clock, ms)
    ms.close()
    server.close()


def test_validate_estimates_the_sweep_and_the_engine_takes_that_long(twin):
    world, station = twin
    body = f"steps:\n  - {SWEEP}\n  - {{type: lsv, begin: 0 V, end: 20 mV, scan_rate: 10 mV/s, step: 5 mV}}\n"  # fmt: skip
    protocol = load_protocol_text(HEAD + body, "t.yaml")
    expected = eis_duration_estimate(1e5, 1.0, 21) + OCV_SETTLE_S + 5 * 0.5
    assert estimate(protocol).duration == pytest.approx(expected, rel=1e-6)
    result, col, _ = run_yaml(body, station, head=HEAD)
    assert result.status == "success", result
    spectrum = col.stream("impedance")
    assert len(spectrum["frequency"]) == 21 and set(spectrum["sweep"]) == {1}
    np.testing.assert_allclose(
        spectrum["modulus"], np.hypot(spectrum["z_real"], spectrum["z_imag"])
    )
    sweep = world.truth()["eis_sweeps"][0]
    assert sweep["end_s"] - sweep["start_s"] == pytest.approx(eis_duration_estimate(1e5, 1.0, 21), rel=0.02)  # fmt: skip
    (event,) = col.kinds("eis")
    assert event.data["points"] == 21 and event.data["complete"]
    electro = col.stream("electro")
    assert electro["voltage"][-1] == pytest.approx(0.02) and electro["current"][-1] > 0
    assert [e.data["technique"] for e in col.kinds("sweep")] == ["lsv"]


def test_a_current_limit_trips_in_the_middle_of_a_voltammetry_sweep(twin):
    head = HEAD.replace("current: 10 mA", "current: 1 mA")
    body = "steps:\n  - {type: lsv, begin: 0 V, end: 0.8 V, scan_rate: 50 mV/s, step: 10 mV}\n"
    result, col, _ = run_yaml(body, twin[1], head=head)
    assert result.status == "tripped" and "current" in result.reason, result
    electro = col.stream("electro")
    crossing = np.flatnonzero(np.abs(electro["current"]) > 1e-3)
    assert len(crossing) == 1 and crossing[0] == len(electro["current"]) - 1  # stops there
    assert electro["voltage"][-1] < 0.8  # the sweep did not run to its end
    (trip,) = col.kinds("limit_trip")
    assert trip.data["quantity"] == "current" and trip.data["sample_time"] == electro["time"][-1]


def test_abort_during_a_sweep_leaves_the_cell_at_open_circuit(twin):
    world, station = twin

    def hook(engine, col, item):
        if len(col.stream("impedance").get("frequency", [])) >= 5:
            engine.abort()

    result, col, _ = run_yaml(f"steps:\n  - {SWEEP}\n", station, head=HEAD, hook=hook)
    assert result.status == "aborted"
    assert 5 <= len(col.stream("impedance")["frequency"]) < 21
    assert world._mode == "off"
    assert world.truth()["eis_sweeps"][-1]["aborted"]


def test_eis_on_a_potentiostat_without_eis_fails_with_a_clear_reason():
    result, _, _ = run_yaml(f"steps:\n  - {SWEEP}\n", head=HEAD)
    assert result.status == "failed"
    assert "cannot run impedance or voltammetry sweeps" in result.reason


@pytest.mark.parametrize(("step", "message"), [
    ("{type: eis, f_start: 100 kHz, f_end: 1 Hz, amplitude: 10 mV}", "exactly one of 'points'"),
    ("{type: eis, f_start: 100 kHz, f_end: 1 Hz, points: 10}", "potentiostatic EIS takes amplitude"),
    ("{type: eis, mode: galvanostatic, f_start: 1 kHz, f_end: 1 Hz, points: 5, amplitude: 1 mV}", "galvanostatic EIS takes current_amplitude"),
    ("{type: eis, f_start: 100 kHz, f_end: 1 mHz, points: 10, amplitude: 10 mV, max_duration: 1 min}", "longer than max_duration"),
    ("{type: eis, f_start: 100 kHz per s, f_end: 1 Hz, points: 10, amplitude: 10 mV}", "frequency"),
    ("{type: eis, f_start: 1 kHz, f_end: 1 Hz, points: 5, amplitude: 20 mV, dc_voltage: 0.99 V}", "beyond the voltage limits"),
    ("{type: eis, mode: galvanostatic, f_start: 1 kHz, f_end: 1 Hz, points: 5, current_amplitude: 2 mA, dc_current: 9 mA}", "beyond the current limit"),
])  # fmt: skip
def test_bad_eis_steps_are_refused_with_the_reason(step, message):
    with pytest.raises(ProtocolError, match=message):
        load_protocol_text(HEAD + f"steps:\n  - {step}\n", "t.yaml")


def _types(specs):
    out = []
    for spec in specs:
        out.append((spec["type"], spec.get("count")))
        out += [("  " + t, c) for t, c in _types(spec.get("steps", []))]
    return out


def test_eis_every_n_cycles_and_at_each_pressure_level():
    ps = PlatingStripping(type="plating_stripping", current_density="0.1 mA/cm2",
                          half_cycle_time="10 min", cycles=5, eis_every=2,
                          eis={"f_start": "10 kHz", "f_end": "1 Hz", "rest": "1 min"})  # fmt: skip
    tree = _types(ps.expand("x"))
    assert tree[0] == ("loop", 2) and tree[1] == ("  loop", 2)  # 2 x (2 cycles + a sweep)
    assert ("  rest", None) in tree and ("  eis", None) in tree
    assert tree[-3] == ("loop", 1)  # the 5th cycle without a sweep after it
    eis = ps.expand("x")[0]["steps"][-1]
    assert eis["f_start"] == 1e4 and eis["amplitude"] == 0.01 and eis["meta"]["phase"] == "eis"
    sched = PressureSchedule(type="pressure_schedule", pressures=["1 MPa", "5 MPa"], hold="1 min",
                             eis_at_each_level={})  # fmt: skip
    kinds = [s["type"] for s in sched.expand("y")]
    assert kinds == ["set_pressure", "signal", "eis", "pressure_hold"] * 2
    assert math.isclose(sched.expand("y")[2]["f_end"], 1.0)
