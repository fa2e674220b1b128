"""Compiled programs, estimates, station validation, and fuzzed YAML that never tracebacks."""

from __future__ import annotations

import contextlib
import textwrap

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daq.station import parse_station_config
from protocols.errors import ProtocolError
from protocols.estimate import estimate
from protocols.loader import load_protocol_text
from protocols.model import STEP_CLASSES
from protocols.program import TrackState, advance, compile_protocol, settle
from protocols.steps.base import CRITERIA
from protocols.validate import validate

HEAD = "name: t\nsample: {area: 1 cm2}\nlimits: {voltage: {min: -2 V, max: 2 V}, current: 10 mA}\n"


def load(body: str):
    return load_protocol_text(HEAD + textwrap.dedent(body), "t.yaml")


def test_track_state_round_trips_and_resumes_mid_loop():
    p = load(
        "steps: [{type: loop, count: 3, steps: [{type: rest, end: [{time: 1 s}]}, {type: rest, end: [{time: 2 s}]}]}]"
    )
    program = compile_protocol(p)["main"]
    state = TrackState()
    seen = [settle(program, state).name]
    for _ in range(3):
        seen.append(advance(program, state).name)
    saved = TrackState.from_json(state.to_json())
    rest_a = [advance(program, state) for _ in range(3)]
    rest_b = [advance(program, saved) for _ in range(3)]
    assert [i and i.name for i in rest_a] == [i and i.name for i in rest_b]
    assert rest_a[-1] is None and state.cycle == 3


def test_estimate_time_capacity_loops_and_charge():
    p = load("""
        steps:
          - {type: rest, end: [{time: 1 min}]}
          - type: loop
            count: 4
            steps:
              - {type: galvanostatic, current_density: 1 mA/cm2, end: [{capacity: 0.5 mAh/cm2}, {voltage_above: 1 V}]}
              - {type: galvanostatic, current_density: -1 mA/cm2, end: [{time: 30 min}]}
          - {type: rest, end: [{dvdt_below: 1 mV/s}]}
        """)
    e = estimate(p)
    assert e.duration == pytest.approx(60 + 4 * 3600)
    assert e.charge_stripped == pytest.approx(4 * 1.8)  # 0.5 mAh = 1.8 C
    assert e.charge_plated == pytest.approx(4 * 1.8)
    assert e.open_ended == ["steps[2]"] and not e.exact


def test_estimate_follows_stop_and_signals_across_tracks():
    p = load("""
        tracks:
          echem:
            - {type: wait, until: event, event: go}
            - {type: galvanostatic, current: 1 mA, end: [{time: 10 min, action: stop}]}
            - {type: rest, end: [{time: 10 h}]}
          press:
            - {type: pressure_ramp, to: 5 MPa, duration: 5 min}
            - {type: signal, name: go}
            - {type: pressure_hold, end: [{time: 2 h}]}
        """)
    e = estimate(p)
    assert e.duration == pytest.approx(15 * 60)  # ramp 5 min, then 10 min and stop


def test_estimate_detects_unbounded_goto():
    p = load("steps: [{type: rest, label: a, end: [{time: 1 s}]}, {type: goto, target: a}]")
    assert estimate(p).unbounded


def test_validate_against_station_ranges_and_roles():
    station = parse_station_config(
        textwrap.dedent("""
        name: s
        instruments:
          cell: {driver: keithley2450, resource: "sim://", settings: {}}
        """)
    )
    p = load("""
        steps:
          - {type: galvanostatic, current: 20 mA, end: [{time: 1 s}]}
          - {type: set_pressure, pressure: 1 MPa}
        """)
    report = validate(p, station)
    problems = "\n".join(report.problems)
    assert "current 20 mA is beyond the protocol's safety limit 10 mA" in problems
    assert "needs a pressure_rig, and the station has none" in problems
    assert not report.ok
    assert any("expected duration" in line for line in report.lines())


def test_validate_uses_range_settings():
    from protocols import validate as v

    class Inst:
        def __init__(self, role, settings):
            self.role, self.settings = role, settings

    class Config:
        instruments = {"press": Inst("pressure_rig", {"capacity": "500 N", "area": "1 cm2", "max_pressure": "20 MPa"}),
                       "cell": Inst("potentiostat", {"max_current": "5 mA"})}  # fmt: skip

    p = load(
        "steps: [{type: set_pressure, pressure: 10 MPa}, {type: galvanostatic, current: 6 mA, end: [{time: 1 s}]}]"
    )
    problems = "\n".join(v.validate(p, Config()).problems)
    assert "pressure 10 MPa is beyond the 'press' range 5 MPa" in problems
    assert "current 6 mA is beyond the 'cell' range 5 mA" in problems
    Config.instruments["cell"].settings["max_current"] = "5 parsec"
    problems = v.validate(p, Config()).problems
    assert any(line.startswith("station: cell.settings.max_current") for line in problems)


# -- fuzzing: any YAML-shaped input gives a Protocol or a ProtocolError, never a traceback -----

_UNITS = ["s", "min", "h", "V", "mV", "mA", "uA", "mA/cm2", "mAh/cm2", "mAh", "MPa", "degC", "K", "nm",
          "um", "Hz", "mV/s", "MPa/min", "VV", "", "parsec"]  # fmt: skip
_quantity = st.builds(
    lambda x, u: f"{x:g} {u}".strip(),
    st.floats(-1e3, 1e3, allow_nan=False),
    st.sampled_from(_UNITS),
)
_scalar = st.one_of(_quantity, st.integers(-3, 5), st.booleans(), st.none(), st.text(max_size=6),
                    st.sampled_from(["next", "stop", "end_cycle", "short", "event", "top"]))  # fmt: skip
_FIELDS = sorted(
    {f for cls in STEP_CLASSES.values() for f in cls.model_fields}
    | set(CRITERIA)
    | {"action", "goto"}
)


def _step(children):
    fields = st.dictionaries(st.sampled_from(_FIELDS), st.one_of(_scalar, children), max_size=6)
    return st.builds(
        lambda t, f: {"type": t, **f}, st.sampled_from([*STEP_CLASSES, "nope"]), fields
    )


_steps = st.recursive(st.lists(_step(st.just([])), max_size=3),
                      lambda children: st.lists(_step(children), max_size=3), max_leaves=8)  # fmt: skip
_doc = st.fixed_dictionaries(
    {"name": st.one_of(st.text(max_size=5), st.integers())},
    optional={
        "sample": st.dictionaries(
            st.sampled_from(["area", "thickness", "electrolyte"]), _scalar, max_size=2
        ),
        "limits": st.dictionaries(
            st.sampled_from(["voltage", "current", "pressure", "debounce", "bias"]),
            st.one_of(_scalar, st.dictionaries(st.sampled_from(["min", "max"]), _scalar)),
            max_size=3,
        ),  # fmt: skip
        "steps": _steps,
        "tracks": st.dictionaries(st.sampled_from(["a", "b"]), _steps, max_size=2),
        "record": st.dictionaries(st.sampled_from(["every", "dv", "di"]), _scalar, max_size=2),
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_doc)
def test_fuzzed_protocols_never_traceback(doc):
    text = yaml.safe_dump(doc)
    try:
        protocol = load_protocol_text(text, "fuzz.yaml")
    except ProtocolError as exc:
        assert all(line.startswith("fuzz.yaml") for line in exc.lines())
        return
    estimate(protocol)
    validate(protocol)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_tracebacks(text):
    with contextlib.suppress(ProtocolError):
        load_protocol_text(text, "x.yaml")
