"""Engine on fake instruments: every step type, every end condition and action, loops, gotos."""

from __future__ import annotations

import numpy as np
import pytest
from protocols_fakes import FakeCell, FakeStation
from protocols_helpers import run_yaml

from analysis.detect import Event


def ends(collector):
    return [
        (e.data["path"], e.data.get("criterion"), round(e.time, 3))
        for e in collector.kinds("step_end")
    ]


def test_galvanostatic_capacity_end_and_compliance_from_limits():
    result, col, st = run_yaml(
        "steps: [{type: galvanostatic, current_density: -1 mA/cm2, end: [{capacity: 0.01 mAh/cm2}]}]"
    )
    assert result.status == "success"
    ((_, crit, t),) = ends(col)
    assert crit == "capacity"
    assert t == pytest.approx(36.0, abs=0.11)  # 0.01 mAh/cm2 * 1 cm2 / 1 mA = 36 s
    assert ("set_current", (-1e-3, 2.0)) in st.potentiostat.calls
    electro = col.stream("electro")
    assert np.allclose(electro["voltage"], -1e-3 * 100)
    assert st.potentiostat.mode == "off"


def test_charge_end():
    result, col, _ = run_yaml(
        "steps: [{type: galvanostatic, current: 1 mA, end: [{charge: 0.01 C}]}]"
    )
    assert ends(col)[0][1:] == ("charge", pytest.approx(10.0, abs=0.11))


@pytest.mark.parametrize(
    ("criterion", "value", "expected_t"),
    [
        ("voltage_above", "0.15 V", 5.0),  # V = 0.1 + 0.01 t
        ("abs_voltage_above", "0.15 V", 5.0),
        ("voltage_below", "0.05 V", None),  # never: time ends it
        ("abs_voltage_below", "0.11 V", 0.0),
        ("dvdt_above", "5 mV/s", 1.0),  # dV/dt = 10 mV/s, known after a 1 s window
        ("dvdt_below", "20 mV/s", 1.0),
    ],
)
def test_voltage_end_conditions(criterion, value, expected_t):
    cell = FakeCell(script=lambda t, v, i: (v + 0.01 * t, i))
    result, col, _ = run_yaml(
        f"steps: [{{type: galvanostatic, current: 1 mA, end: [{{time: 20 s}}, {{{criterion}: {value}}}]}}]",
        FakeStation.full(cell),
    )
    ((_, crit, t),) = ends(col)
    if expected_t is None:
        assert (crit, t) == ("time", pytest.approx(20.0))
    else:
        assert crit == criterion
        assert t == pytest.approx(expected_t, abs=0.11)


@pytest.mark.parametrize(
    ("criterion", "expected"), [("current_below", 6.93), ("current_above", 0.0)]
)
def test_potentiostatic_current_end(criterion, expected):
    # I = V/R e^{-t/10}: 1 mA at start, 0.5 mA after 10 ln 2 s
    cell = FakeCell(script=lambda t, v, i: (v, i * np.exp(-t / 10)))
    value = "0.5 mA" if criterion == "current_below" else "0.9 mA"
    result, col, st = run_yaml(
        f"steps: [{{type: potentiostatic, voltage: 0.1 V, end: [{{{criterion}: {value}}}, {{time: 60 s}}]}}]",
        FakeStation.full(cell),
    )
    assert ends(col)[0][1:] == (criterion, pytest.approx(expected, abs=0.11))
    assert ("set_voltage", (0.1, 0.01)) in st.potentiostat.calls


def test_rest_is_open_circuit_and_time_end():
    result, col, st = run_yaml("steps: [{type: rest, end: [{time: 3 s}]}]")
    assert ("set_open_circuit", ()) in st.potentiostat.calls
    assert ends(col)[0][1:] == ("time", 3.0)
    assert np.all(col.stream("electro")["current"] == 0)


def test_after_arms_a_condition_late():
    result, col, _ = run_yaml(
        "steps: [{type: rest, end: [{abs_voltage_below: 1 mV, after: 2 s}, {time: 9 s}]}]"
    )
    assert ends(col)[0][1:] == ("abs_voltage_below", pytest.approx(2.0, abs=0.11))


def test_compliance_event():
    station = FakeStation.full()
    station.potentiostat.compliance_after = 4.0
    result, col, _ = run_yaml(
        "steps: [{type: galvanostatic, current: 1 mA, end: [{event: compliance}, {time: 30 s}]}]",
        station,
    )
    assert ends(col)[0][1:] == ("event", pytest.approx(4.0, abs=0.11))


class ScriptedDetector:
    """Reports a hard short at a given time (stands in for analysis.detect.ShortDetector)."""

    def __init__(self, at: float, kind: str = "hard_short") -> None:
        self.at, self.kind, self.done = at, kind, False

    def update(self, t, v, i):
        if not self.done and t.size and t[-1] >= self.at:
            self.done = True
            return [Event(self.kind, float(t[t >= self.at][0]), "scripted", {"v": 0.0})]
        return []


def test_detector_event_ends_step_and_records_outcome():
    body = """
    steps:
      - type: ccd_ramp
        start: 0.1 mA/cm2
        increment: 0.1 mA/cm2
        maximum: 1 mA/cm2
        half_cycle_time: 10 s
        cycles_per_step: 2
    """
    result, col, _ = run_yaml(body, detectors=[ScriptedDetector(95.0)])
    assert result.status == "stopped"
    (outcome,) = result.outcomes
    # 40 s per level (2 cycles x 2 half cycles x 10 s): t = 95 s is in level 3
    assert outcome["result"] == "ccd_failure" and outcome["failure_mode"] == "short"
    assert outcome["j_crit"] == pytest.approx(3.0)  # 0.3 mA/cm2 in A/m2
    assert col.kinds("detector")[0].data["event"] == "short"


class ScriptedCalls:
    """Reports void-onset calls at given (time, confidence) pairs, in order."""

    def __init__(self, calls: list[tuple[float, float]]) -> None:
        self.calls = list(calls)

    def update(self, t, v, i):
        out = []
        while self.calls and t.size and t[-1] >= self.calls[0][0]:
            at, conf = self.calls.pop(0)
            out.append(Event("void_onset", float(t[t >= at][0]), "scripted", {}, conf))
        return out


def test_event_end_condition_can_require_a_minimum_confidence():
    body = """
    steps:
      - type: galvanostatic
        current: 1 mA
        end: [{event: void_onset, min_confidence: 0.8}, {time: 100 s}]
    """
    result, col, _ = run_yaml(body, detectors=[ScriptedCalls([(30.0, 0.5), (60.0, 0.9)])])
    assert result.status == "success"
    ((_, crit, t),) = ends(col)
    assert crit == "event" and t == pytest.approx(60.0, abs=0.11)  # the 0.5 call did not end it
    assert [e.data["confidence"] for e in col.kinds("detector")] == [0.5, 0.9]  # both logged


def test_min_confidence_only_with_a_detector_event():
    from pydantic import ValidationError

    from protocols.steps.base import EndCondition

    with pytest.raises(ValidationError, match="'min_confidence' goes only with a detector 'event'"):
        EndCondition(time="10 s", min_confidence=0.8)
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        EndCondition(event="void_onset", min_confidence=1.5)


def test_ccd_polarization_limit_gives_failure_mode():
    # |V| = |I| R grows with J: 100 ohm * 1 cm2 => 0.5 V at 5 A/m2 (0.5 mA/cm2)
    body = """
    steps:
      - {type: ccd_ramp, start: 0.1 mA/cm2, increment: 0.1 mA/cm2, maximum: 1 mA/cm2, half_cycle_time: 5 s, polarization_limit: 45 mV}
    """
    result, _, _ = run_yaml(body, FakeStation.full(FakeCell(resistance=100.0)))
    (outcome,) = result.outcomes
    assert outcome["failure_mode"] == "polarization"
    assert outcome["j_crit"] == pytest.approx(5.0)


def test_loop_goto_and_end_cycle_flow_and_cycle_numbers():
    body = """
    steps:
      - {type: rest, label: top, end: [{time: 1 s}]}
      - type: loop
        count: 3
        steps:
          - {type: galvanostatic, current: 1 mA, end: [{time: 1 s}]}
          - {type: galvanostatic, current: -1 mA, end: [{time: 1 s, action: end_cycle}]}
          - {type: rest, end: [{time: 50 s}]}
      - {type: goto, target: top, times: 1}
      - {type: rest, end: [{time: 1 s, goto: last}]}
      - {type: rest, end: [{time: 50 s}]}
      - {type: rest, label: last, end: [{time: 1 s}]}
    """
    result, col, _ = run_yaml(body)
    paths = [p for p, _, _ in ends(col)]
    loop = ["steps[1].steps[0]", "steps[1].steps[1]"] * 3
    assert paths == ["steps[0]", *loop, "steps[0]", *loop, "steps[3]", "steps[5]"]
    assert "steps[1].steps[2]" not in paths and "steps[4]" not in paths
    decisions = [e.text for e in col.kinds("decision")]
    assert "main: steps[1]: loop iteration 2 of 3" in decisions
    assert "main: steps[2]: goto 'top' (1 of 1)" in decisions
    assert "main: steps[2]: goto 'top' done 1 times, falling through" in decisions
    cycles = col.stream("electro")["cycle"]
    assert list(np.unique(cycles)) == list(range(7))  # 0: the leading rest; 1-6: loop iterations
    assert result.states["main"]["done"]


def test_stop_action_ends_run_as_stopped():
    result, col, st = run_yaml(
        "steps: [{type: rest, end: [{time: 1 s, action: stop}]}, {type: rest, end: [{time: 9 s}]}]"
    )
    assert result.status == "stopped"
    assert len(col.kinds("step_start")) == 1
    assert st.potentiostat.mode == "off"


def test_record_rule_every_dt():
    body = """
    record: {every: 1 s}
    steps: [{type: rest, end: [{time: 10 s}]}, {type: rest, record: {dv: 1 V}, end: [{time: 10 s}]}]
    """
    _, col, _ = run_yaml(body)
    electro = col.stream("electro")
    first = electro["step"] == 0
    assert 10 <= first.sum() <= 12  # 1 Hz of the 10 Hz samples
    assert (~first).sum() == 0  # V never moves by 1 V in the second rest


def test_current_interrupt_logs_resistances():
    _, col, _ = run_yaml(
        "steps: [{type: current_interrupt, current: 1 mA, on_time: 2 s, off_time: 2 s}]"
    )
    (event,) = col.kinds("current_interrupt")
    assert event.data["r_ohmic"] == pytest.approx(100.0)
    assert event.data["r_interfacial"] == pytest.approx(0.0, abs=1e-9)


def test_pressure_track_and_wait_for_event_across_tracks():
    body = """
    tracks:
      echem:
        - {type: wait, until: event, event: pressure_2}
        - {type: galvanostatic, current: 1 mA, end: [{time: 5 s}, {pressure_below: 1 MPa}]}
      press:
        - {type: pressure_schedule, pressures: [2 MPa, 4 MPa], hold: 10 s}
    """
    result, col, st = run_yaml(body)
    signal = {e.data["name"]: e.time for e in col.kinds("signal")}
    galv_start = next(e.time for e in col.kinds("step_start") if e.data["type"] == "galvanostatic")
    assert galv_start >= signal["pressure_2"] > signal["pressure_1"] + 10
    p = col.stream("pressure")
    assert p["pressure"].max() == pytest.approx(4e6, rel=0.02)
    assert st.pressure_rig.holding  # held at the end


def test_pressure_ramp_hold_and_pressure_end_condition():
    body = """
    steps:
      - {type: pressure_ramp, to: 3 MPa, rate: 1 MPa/s}
      - {type: pressure_hold, pressure: 0.5 MPa, end: [{pressure_below: 1 MPa}, {time: 60 s}]}
    """
    result, col, st = run_yaml(body)
    assert ("set_pressure", (3e6, 1e6)) in st.pressure_rig.calls
    assert [c for _, c, _ in ends(col)] == [None, "pressure_below"]


def test_set_pressure_timeout_fails_the_run():
    station = FakeStation.full()
    station.pressure_rig.gain = 0.0  # never moves
    result, _, _ = run_yaml("steps: [{type: set_pressure, pressure: 5 MPa, timeout: 3 s}]", station)
    assert result.status == "failed" and "did not settle" in result.reason


def test_temperature_steps():
    body = """
    steps:
      - {type: set_temperature, temperature: 60 degC, timeout: 1 min}
      - {type: wait, until: temperature_stable}
    """
    result, col, st = run_yaml(body)
    assert result.status == "success"
    assert col.stream("thermal")["temperature"][-1] == pytest.approx(333.15, abs=0.1)


def test_wait_timeout_actions():
    body = "tracks: {a: [{type: wait, until: event, event: never_sent, timeout: 2 s, on_timeout: next}], b: [{type: signal, name: never_sent, label: x}, {type: rest, end: [{time: 1 s}]}]}"
    # the signal exists but 'a' waits for it after it was sent: still satisfied
    result, _, _ = run_yaml(body)
    assert result.status == "success"
    result, col, _ = run_yaml(
        "tracks: {a: [{type: wait, until: event, event: late, timeout: 2 s}], b: [{type: rest, end: [{time: 5 s}]}, {type: signal, name: late}]}"
    )
    assert result.status == "stopped" and "timed out" in result.reason


def test_tem_sequence_on_holder_and_frames():
    body = """
    steps:
      - type: tem_sequence
        threshold_current: 1 nA
        probe_bias: 0.1 V
        approach_step: 10 nm
        max_travel: 1 um
        plate_time: 3 s
        strip_time: 2 s
        cycles: 2
        current_limit: 1 uA
        overflow_bias: 10 V
        overflow_time: 1 s
        overflow_current_limit: 10 uA
    """
    result, col, st = run_yaml(body, head="name: tem\n")
    assert result.status == "success"
    levels = [v for _, v in st.bias_holder.history]
    assert [v for v in levels if v] == [-2.0, 2.0, -2.0, 2.0, 10.0] and levels[-1] == 0.0
    assert col.kinds("approach")[0].data["contact"]
    assert len(col.frames) >= 5 and not st.frame_source.running
    assert len(col.stream("bias")["voltage"]) > 50


def test_bias_pulse_train_and_no_contact_stop():
    body = """
    steps:
      - {type: bias_pulse_train, high: 1 V, low: -1 V, high_time: 1 s, low_time: 2 s, count: 3, current_limit: 1 uA}
    """
    _, _, st = run_yaml(body, head="name: p\n")
    times = [round(t, 2) for t, _ in st.bias_holder.history]
    assert times[:6] == [0.0, 1.0, 3.0, 4.0, 6.0, 7.0]
    station = FakeStation.full()
    station.bias_holder.contact_after = 1000
    result, _, _ = run_yaml("steps: [{type: approach, threshold_current: 1 nA, probe_bias: 0.1 V, step: 10 nm, max_travel: 1 um}]",
                            station, head="name: p\n")  # fmt: skip
    assert result.status == "stopped" and "no contact" in result.reason


def test_every_transition_is_logged_with_state():
    _, col, _ = run_yaml(
        "steps: [{type: loop, count: 2, steps: [{type: rest, end: [{time: 1 s}]}]}]"
    )
    kinds = [e.kind for e in col.events]
    assert kinds[0] == "segment_start" and kinds[-1] == "run_end"
    assert kinds.count("step_start") == kinds.count("step_end") == 2
    assert all("state" in e.data for e in col.kinds("step_end"))


def test_progress_estimates_remaining_time():
    _, col, _ = run_yaml("steps: [{type: rest, end: [{time: 100 s}]}]")
    middle = next(p for p in col.progress if p.elapsed >= 50)
    assert middle.expected == pytest.approx(100.0)
    assert middle.remaining == pytest.approx(100.0 - middle.elapsed)


def test_progress_re_estimates_after_an_early_end():
    cell = FakeCell(script=lambda t, v, i: (v + 0.01 * t, i))
    body = """
    steps:
      - {type: galvanostatic, current: 1 mA, end: [{time: 100 s}, {voltage_above: 0.15 V}]}
      - {type: rest, end: [{time: 100 s}]}
    """
    _, col, _ = run_yaml(body, FakeStation.full(cell))
    assert col.progress[0].expected == pytest.approx(200.0)
    late = next(p for p in col.progress if p.elapsed > 10)
    assert late.expected == pytest.approx(105.0, abs=0.2)  # the first step ended at 5 s
