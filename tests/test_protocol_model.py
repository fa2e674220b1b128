"""Protocol model: YAML with units, located one-line errors, templates, hash, builder."""

from __future__ import annotations

import textwrap

import pytest

from protocols.builder import ProtocolBuilder, end
from protocols.errors import ProtocolError
from protocols.loader import load_protocol, load_protocol_text
from protocols.model import Protocol
from protocols.program import compile_protocol

HEAD = """\
name: t
sample: {area: 1 cm2}
limits: {voltage: {min: -2 V, max: 2 V}, current: 10 mA}
"""


def load(body: str, head: str = HEAD) -> Protocol:
    return load_protocol_text(head + textwrap.dedent(body), "t.yaml")


def error_lines(body: str, head: str = HEAD) -> list[str]:
    with pytest.raises(ProtocolError) as info:
        load(body, head)
    return info.value.lines()


def test_units_are_parsed_to_si():
    p = load("""
        steps:
          - type: galvanostatic
            current_density: 0.1 mA/cm2
            end: [{time: 30 min}, {capacity: 1 mAh/cm2}, {voltage_above: 500 mV, action: stop}]
          - type: set_pressure
            pressure: 5 MPa
          - type: set_temperature
            temperature: 55 degC
        """)
    galv, press, temp = p.steps
    assert galv.current_density == pytest.approx(1.0)  # 0.1 mA/cm2 = 1 A/m2
    assert galv.end[0].time == 1800
    assert galv.end[1].capacity == pytest.approx(36000.0)  # 1 mAh/cm2 = 3.6 C / 1e-4 m2
    assert galv.end[2].voltage_above == pytest.approx(0.5)
    assert press.pressure == 5e6
    assert temp.temperature == pytest.approx(328.15)


def test_error_names_file_line_field_and_value():
    lines = error_lines("""
        steps:
          - type: rest
            end: [{time: 1 s}]
          - type: galvanostatic
            current: 1 mA
            end:
              - time: 10 s
              - voltage_above: 4.2 VV
        """)
    assert len(lines) == 1
    assert lines[0].startswith(
        "t.yaml:12: steps[1].end[1].voltage_above: cannot parse '4.2 VV' as a voltage"
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "steps: [{type: rest, end: [{time: 5 mA}]}]",
            "steps[0].end[0].time: '5 mA' is not a valid time",
        ),
        ("steps: [{type: rest, end: [{time: 5}]}]", "steps[0].end[0].time: 5 is not a valid time"),
        ("steps: [{type: rest, end: [{time: -5 s}]}]", "must be greater than zero"),
        ("steps: [{type: restt}]", "steps[0]: unknown step type 'restt'"),
        ("steps: [{type: rest}]", "steps[0].end: required field is missing"),
        (
            "steps: [{type: rest, end: [{time: 1 s}], colour: red}]",
            "steps[0].colour: unknown field",
        ),
        (
            "steps: [{type: rest, end: [{time: 1 s, voltage_above: 1 V}]}]",
            "give exactly one criterion",
        ),
        (
            "steps: [{type: galvanostatic, current: 1 mA, current_density: 1 mA/cm2, end: [{time: 1 s}]}]",
            "exactly one of 'current' or 'current_density'",
        ),
        (
            "steps: [{type: loop, count: 0, steps: [{type: rest, end: [{time: 1 s}]}]}]",
            "steps[0].count",
        ),
        ("steps: [{type: goto, target: nowhere}]", "steps[0].target: no label 'nowhere'"),
        (
            "steps: [{type: rest, end: [{time: 1 s, action: end_cycle}]}]",
            "end_cycle is only possible inside a loop",
        ),
        (
            "steps: [{type: rest, end: [{current_below: 1 uA}]}]",
            "'current_below' cannot end a rest step",
        ),
        ("steps: [{type: wait, until: event, event: never}]", "no track signals 'never'"),
        (
            "steps: [{type: rest, label: a, end: [{time: 1 s}]}, {type: rest, label: a, end: [{time: 1 s}]}]",
            "label 'a' is used twice",
        ),
        ("steps: []\ntracks: {}", "give either 'steps'"),
    ],
)
def test_each_error_is_one_located_line(body, expected):
    lines = error_lines(body)
    assert any(expected in line for line in lines), lines
    assert all(line.startswith("t.yaml:") for line in lines)


def test_area_is_required_for_current_density():
    lines = error_lines("steps: [{type: galvanostatic, current_density: 1 mA/cm2, end: [{time: 1 s}]}]",
                        head="name: t\nlimits: {voltage: {max: 1 V}}\n")  # fmt: skip
    assert "needs sample.area" in lines[0]


def test_area_limits_need_an_area():
    lines = error_lines(
        "steps: [{type: rest, end: [{time: 1 s}]}]", head="name: t\nlimits: {capacity: 1 mAh/cm2}\n"
    )
    assert lines == ["t.yaml:2: limits.capacity: limits.capacity needs sample.area"]


def test_compliance_needed_from_step_or_limits():
    lines = error_lines(
        "steps: [{type: galvanostatic, current: 1 mA, end: [{time: 1 s}]}]", head="name: t\n"
    )
    assert "needs a voltage_limit" in lines[0]


def test_two_tracks_cannot_command_the_same_instrument():
    lines = error_lines("""
        tracks:
          a: [{type: rest, end: [{time: 1 s}]}]
          b: [{type: rest, end: [{time: 1 s}]}]
        """)
    assert "already commands" in lines[0]


@pytest.mark.parametrize(
    "text",
    ["name: [unclosed", "", "- just a list", "name: t\nsteps: {type: rest}"],
)
def test_bad_documents_are_protocol_errors(text):
    with pytest.raises(ProtocolError) as info:
        load_protocol_text(text, "x.yaml")
    assert str(info.value).startswith("x.yaml")


def test_missing_file_is_a_protocol_error(tmp_path):
    with pytest.raises(ProtocolError, match="cannot read"):
        load_protocol(tmp_path / "nope.yaml")


def test_every_step_type_parses_and_compiles():
    p = load("""
        tracks:
          echem:
            - {type: rest, label: top, end: [{time: 1 s}, {dvdt_below: 1 mV/s, after: 1 s}]}
            - {type: galvanostatic, current: 1 mA, end: [{charge: 1 mAh}, {event: short, action: stop}]}
            - {type: potentiostatic, voltage: 10 mV, current_limit: 1 mA, end: [{current_below: 1 uA}]}
            - {type: current_interrupt, current: 1 mA, on_time: 1 s, off_time: 1 s}
            - {type: loop, count: 2, steps: [{type: rest, end: [{time: 1 s, action: end_cycle}]}]}
            - {type: goto, target: top, times: 1}
            - {type: wait, until: event, event: ready}
          press:
            - {type: set_pressure, pressure: 1 MPa, rate: 1 MPa/min}
            - {type: pressure_ramp, to: 2 MPa, duration: 1 min}
            - {type: pressure_hold, end: [{time: 1 min}, {pressure_below: 0.5 MPa}]}
            - {type: signal, name: ready}
            - {type: wait, until: pressure_settled, timeout: 1 min}
          heat:
            - {type: set_temperature, temperature: 60 degC, timeout: 1 h}
            - {type: wait, until: temperature_stable}
          tem:
            - {type: approach, threshold_current: 1 nA, probe_bias: 0.1 V, step: 10 nm, max_travel: 5 um}
            - {type: frame_capture, enabled: true}
            - {type: bias_hold, voltage: -2 V, current_limit: 1 uA, end: [{time: 10 s}]}
            - {type: bias_pulse_train, high: 2 V, low: 0 V, high_time: 1 s, low_time: 1 s, count: 3, current_limit: 1 uA}
            - {type: frame_capture, enabled: false}
        """)
    programs = compile_protocol(p)
    types = {i.step.type for prog in programs.values() for i in prog.instrs if i.step is not None}
    assert {"rest", "galvanostatic", "potentiostatic", "current_interrupt", "loop", "goto", "wait",
            "set_pressure", "pressure_ramp", "pressure_hold", "signal", "set_temperature", "approach",
            "frame_capture", "bias_hold", "bias_pulse_train"} <= types  # fmt: skip


TEMPLATES_YAML = {
    "plating_stripping": "{type: plating_stripping, current_density: 0.1 mA/cm2, cycles: 3, half_cycle_capacity: 0.1 mAh/cm2, rest: 1 min, cutoff: 1 V}",
    "ccd_ramp": "{type: ccd_ramp, start: 0.1 mA/cm2, factor: 2, maximum: 1 mA/cm2, cycles_per_step: 2, half_cycle_time: 10 min, polarization_limit: 1 V, short_voltage: 1 mV}",
    "pressure_schedule": "{type: pressure_schedule, pressures: [1 MPa, 3 MPa], hold: 1 h}",
    "ccd_pressure_map": "{type: ccd_pressure_map, pressures: [1 MPa, 5 MPa], ccd: {start: 0.1 mA/cm2, increment: 0.1 mA/cm2, maximum: 0.3 mA/cm2, half_cycle_time: 1 min}}",
    "ce_cutoff": "{type: ce_cutoff, current_density: 0.5 mA/cm2, plate_capacity: 1 mAh/cm2, cutoff: 1 V, cycles: 5}",
    "ce_reservoir": "{type: ce_reservoir, current_density: 0.5 mA/cm2, plate_capacity: 5 mAh/cm2, reservoir_capacity: 5 mAh/cm2, cycle_capacity: 1 mAh/cm2, cycles: 10, cutoff: 1 V}",
    "tem_sequence": "{type: tem_sequence, threshold_current: 1 nA, probe_bias: 0.1 V, approach_step: 10 nm, max_travel: 5 um, plate_time: 1 min, strip_time: 1 min, cycles: 3, current_limit: 1 uA, overflow_bias: 10 V, overflow_time: 10 s, overflow_current_limit: 10 uA}",
}


@pytest.mark.parametrize("name", sorted(TEMPLATES_YAML))
def test_templates_expand_into_valid_steps(name):
    p = load(f"steps: [{TEMPLATES_YAML[name]}]")
    program = compile_protocol(p)["main"]
    assert sum(1 for _ in program.steps()) >= 2
    assert all(i.step.meta.get("template") in (name, "ccd_ramp", None) for i in program.steps())


def test_ccd_ramp_levels_linear_and_geometric():
    lin = load(
        "steps: [{type: ccd_ramp, start: 0.1 mA/cm2, increment: 0.1 mA/cm2, maximum: 0.5 mA/cm2, half_cycle_time: 1 min}]"
    )
    geo = load(
        "steps: [{type: ccd_ramp, start: 0.1 mA/cm2, factor: 2, maximum: 1 mA/cm2, half_cycle_time: 1 min}]"
    )
    assert lin.steps[0].levels() == pytest.approx([1, 2, 3, 4, 5])
    assert geo.steps[0].levels() == pytest.approx([1, 2, 4, 8])


def test_ccd_ramp_refuses_absurd_level_counts():
    lines = error_lines(
        "steps: [{type: ccd_ramp, start: 1 uA/cm2, increment: 1 uA/cm2, maximum: 10 mA/cm2, half_cycle_time: 1 min}]"
    )
    assert "the ramp would have 10000 levels (at most 1000)" in lines[0]


def test_template_parameter_errors_are_located():
    lines = error_lines("""
        steps:
          - type: ccd_ramp
            start: 0.1 mA/cm2
            maximum: 1 mA/cm2
            half_cycle_time: 1 min
        """)
    assert lines == [
        "t.yaml:6: steps[0]: give exactly one of 'increment' (linear) or 'factor' (geometric)"
    ]


def test_normalized_json_and_hash_ignore_unit_spelling():
    a = load("steps: [{type: rest, end: [{time: 30 min}]}]")
    b = load("steps: [{type: rest, end: [{time: 1800 s}]}]")
    c = load("steps: [{type: rest, end: [{time: 31 min}]}]")
    assert a.normalized_json() == b.normalized_json()
    assert a.sha256() == b.sha256() != c.sha256()
    assert Protocol.from_normalized(a.normalized_json()) == a


def test_builder_mirrors_yaml():
    b = ProtocolBuilder(
        "t",
        sample={"area": "1 cm2"},
        limits={"voltage": {"min": "-2 V", "max": "2 V"}, "current": "10 mA"},
    )
    main = b.track()
    main.rest(end=[end.time("10 s")])
    with main.loop(2) as body:
        body.galvanostatic(current_density="0.1 mA/cm2", end=[end.capacity("0.01 mAh/cm2")])
    main.ccd_ramp(
        start="0.1 mA/cm2", increment="0.1 mA/cm2", maximum="0.2 mA/cm2", half_cycle_time="1 min"
    )
    built = b.build()
    from_yaml = load("""
        steps:
          - {type: rest, end: [{time: 10 s}]}
          - {type: loop, count: 2, steps: [{type: galvanostatic, current_density: 0.1 mA/cm2, end: [{capacity: 0.01 mAh/cm2}]}]}
          - {type: ccd_ramp, start: 0.1 mA/cm2, increment: 0.1 mA/cm2, maximum: 0.2 mA/cm2, half_cycle_time: 1 min}
        """)
    assert built.sha256() == from_yaml.sha256()


def test_builder_refuses_unknown_names_and_reports_like_yaml():
    b = ProtocolBuilder("t")
    with pytest.raises(AttributeError, match="unknown step type"):
        b.track().galvanostatik()
    with pytest.raises(AttributeError, match="unknown end criterion"):
        end.voltage_abuv("1 V")
    b.track().rest(end=[end.time("1 parsec")])
    with pytest.raises(ProtocolError, match=r"steps\[0\]\.end\[0\]\.time"):
        b.build()


def test_builder_accepts_pint_quantities():
    from daq.units import ureg

    b = ProtocolBuilder("t", sample={"area": ureg("1 cm**2")}, limits={"voltage": {"max": "1 V"}})
    b.track().galvanostatic(current_density=ureg("0.1 mA/cm**2"), end=[end.time(ureg("5 min"))])
    p = b.build()
    assert p.steps[0].current_density == pytest.approx(1.0)
    assert p.steps[0].end[0].time == pytest.approx(300)


def test_imaging_calibration_in_the_sample_reaches_the_run_metadata():
    from pathlib import Path

    from daq.recording import sample_metadata
    from protocols.loader import load_protocol

    root = Path(__file__).resolve().parents[1]
    meta = sample_metadata(load_protocol(root / "examples/protocols/tem_sequence.yaml"))
    assert meta["pixel_size_m"] == pytest.approx(50e-9)
    assert meta["inner_diameter_m"] == pytest.approx(100e-9)


def test_a_ccd_pressure_map_moves_on_after_polarization_but_stops_on_a_short():
    """A welded filament stays: after a short every later ramp would measure only the short."""
    p = load(f"steps: [{TEMPLATES_YAML['ccd_pressure_map'][:-2]}, polarization_limit: 1 V}}}}]")
    first = next(
        i.step for i in compile_protocol(p)["main"].steps() if getattr(i.step, "end", None)
    )
    ends = {(e.criterion, e.event): (e.action, e.goto) for e in first.end}
    assert ends[("abs_voltage_above", None)] == (None, "main:steps[0]:map_1_done")
    assert ends[("event", "short")] == ("stop", None)
