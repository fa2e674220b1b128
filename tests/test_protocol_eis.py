"""``eis`` / ``lsv`` / ``cv`` steps and the EIS template options, on the MethodSCRIPT twin."""

from __future__ import annotations

import math
from pathlib import Path

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
    body = f"steps:\n  - {SWEEP}\n  - {{type: lsv, start: 0 V, stop: 20 mV, scan_rate: 10 mV/s, step: 5 mV}}\n"  # fmt: skip
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
    body = "steps:\n  - {type: lsv, start: 0 V, stop: 0.8 V, scan_rate: 50 mV/s, step: 10 mV}\n"
    result, col, _ = run_yaml(body, twin[1], head=head)
    assert result.status == "tripped" and "current" in result.reason, result
    electro = col.stream("electro")
    crossing = np.flatnonzero(np.abs(electro["current"]) > 1e-3)
    assert len(crossing) == 1 and crossing[0] == len(electro["current"]) - 1  # stops there
    assert electro["voltage"][-1] < 0.8  # the sweep did not run to its end
    (trip,) = col.kinds("limit_trip")
    assert trip.data["quantity"] == "current" and trip.data["sample_time"] == electro["time"][-1]


def test_an_lsv_ends_at_the_current_density_onset_and_the_cell_goes_to_open_circuit(twin):
    world, station = twin
    body = """steps:
  - type: lsv
    start: 0 V
    stop: 0.8 V
    scan_rate: 50 mV/s
    step: 5 mV
    end: [{current_density_above: 0.2 mA/cm2, result: onset}]
  - {type: rest, end: [{time: 2 s}]}
"""
    result, col, _ = run_yaml(body, station, head=HEAD)
    assert result.status == "success", result
    end = next(e for e in col.kinds("step_end") if e.data["path"] == "steps[0]")
    assert end.data["criterion"] == "current_density_above" and end.data["value"] > 2.0  # A/m2
    electro = col.stream("electro")
    swept = np.asarray(electro["step"]) == end.step
    amps, volts = np.abs(electro["current"])[swept], electro["voltage"][swept]
    crossing = np.flatnonzero(amps > 2.0e-4)  # 0.2 mA/cm2 over 1 cm2
    assert len(crossing) == 1 and crossing[0] == len(amps) - 1  # the last point is the crossing
    assert end.data["at"] == pytest.approx(np.asarray(electro["time"])[swept][-1])
    assert 0.0 < volts[-1] < 0.8  # the electrolyte was not driven to the sweep's end
    (sweep,) = col.kinds("sweep")
    assert not sweep.data["complete"] and sweep.data["points"] == len(amps)
    assert sweep.data["start"] == 0.0 and sweep.data["stop"] == 0.8
    assert [o["result"] for o in result.outcomes] == ["onset"]
    rest = np.asarray(electro["step"]) == end.step + 1
    assert np.allclose(np.asarray(electro["current"])[rest], 0.0)  # open circuit afterwards


def test_a_cv_ends_on_time_and_the_estimate_knows(twin):
    body = """steps:
  - {type: cv, start: 0 V, vertex1: 50 mV, vertex2: -50 mV, scan_rate: 10 mV/s, step: 5 mV,
     scans: 3, end: [{time: 4 s}]}
"""
    protocol = load_protocol_text(HEAD + body, "t.yaml")
    assert estimate(protocol).duration == pytest.approx(4.0)
    result, col, _ = run_yaml(body, twin[1], head=HEAD)
    assert result.status == "success", result
    (end,) = col.kinds("step_end")
    assert end.data["criterion"] == "time"
    assert col.stream("electro")["time"][-1] <= end.data["at"] + 1e-9


@pytest.mark.parametrize(("step", "line", "message"), [
    ("{type: lsv, begin: 0 V, stop: 1 V, scan_rate: 1 mV/s}", 5,
     "steps[0].begin: 'begin' was renamed: write 'start'"),
    ("{type: lsv, start: 0 V, end: 1 V, scan_rate: 1 mV/s}", 5,
     "steps[0].end: 'end' is the list of end conditions"),
    ("{type: cv, begin: 0 V, vertex1: 1 V, vertex2: 0 V, scan_rate: 1 mV/s}", 5,
     "steps[0].begin: 'begin' was renamed: write 'start'"),
    ("{type: lsv, start: 0 V, stop: 1 V, scan_rate: 1 mV/s, end: [{pressure_above: 1 MPa}]}", 5,
     "'pressure_above' cannot end a lsv step"),
])  # fmt: skip
def test_sweep_fields_under_their_old_names_are_refused_naming_file_line_field(step, line, message):
    with pytest.raises(ProtocolError) as info:
        load_protocol_text(HEAD + f"steps:\n  - {step}\n", "t.yaml")
    assert any(text.startswith(f"t.yaml:{line}:") and message in text for text in info.value.lines()), info.value  # fmt: skip
    assert not any("start: required" in text for text in info.value.lines())


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
    assert "the potentiostat 'cell' cannot run eis sweeps (sweeps it runs: none" in result.reason


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


def test_validate_refuses_sweeps_the_stations_potentiostat_does_not_declare():
    from daq.station import load_station_config
    from protocols.validate import validate

    root = Path(__file__).resolve().parents[1] / "examples/stations"
    body = (f"steps:\n  - {SWEEP}\n"
            "  - {type: cv, start: 0 V, vertex1: 0.1 V, vertex2: -0.1 V, scan_rate: 10 mV/s}\n")  # fmt: skip
    protocol = load_protocol_text(HEAD + body, "t.yaml")
    smu = validate(protocol, load_station_config(root / "sim.yaml")).problems
    assert smu == [
        "steps[0]: the potentiostat 'cell' cannot run eis sweeps (sweeps it runs: none: it sources "
        "and measures DC only); impedance and voltammetry need a potentiostat with them, e.g. "
        "driver 'methodscript'",
        "steps[1]: the potentiostat 'cell' cannot run cv sweeps (sweeps it runs: none: it sources "
        "and measures DC only); impedance and voltammetry need a potentiostat with them, e.g. "
        "driver 'methodscript'",
    ]  # fmt: skip
    assert validate(protocol, load_station_config(root / "sim_eis.yaml")).problems == []
