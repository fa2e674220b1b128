"""Full-cell protocols: C-rates from the sample's capacity basis, cut-offs, CC-CV, templates."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from protocols_fakes import FakeCell, FakeStation
from protocols_helpers import run_yaml

from protocols.estimate import estimate
from protocols.loader import load_protocol, load_protocol_text
from protocols.program import compile_protocol
from protocols.validate import validate

HEAD = """\
name: t
sample: {area: 1 cm2, cathode: {active_material: LiFePO4, mass_loading: 4 mg/cm2, specific_capacity: 170 mAh/g}}
limits: {voltage: {min: 0 V, max: 4.2 V}, current: 10 mA}
"""
CAPACITY_C = 4e-3 * 170 * 3.6  # 4 mg x 170 mAh/g = 0.68 mAh = 2.448 C


def ends(collector):
    return [(e.data.get("criterion"), round(e.time, 3)) for e in collector.kinds("step_end")]


def test_c_rate_becomes_a_current_at_run_start_with_its_basis():
    result, col, st = run_yaml(
        "steps: [{type: galvanostatic, c_rate: 0.5 C, end: [{time: 2 s}]}]", head=HEAD
    )
    assert result.status == "success"
    current = 0.5 * CAPACITY_C / 3600.0
    assert st.potentiostat.calls[0][1][0] == pytest.approx(current)
    (event,) = col.kinds("c_rate")
    assert event.data["current_A"] == pytest.approx(current)
    assert event.data["capacity_C"] == pytest.approx(CAPACITY_C)
    assert "4 mg/cm2" in event.data["basis"] and "170 mAh/g" in event.data["basis"]


@pytest.mark.parametrize(
    ("sample", "rate"),
    [("{area: 1 cm2}", "C/10"),
     ("{area: 1 cm2, cathode: {mass_loading: 4 mg/cm2}}", "0.1 C"),
     ("{cathode: {mass_loading: 4 mg/cm2, specific_capacity: 170 mAh/g}}", "0.1")],
)  # fmt: skip
def test_a_c_rate_without_a_capacity_basis_is_refused(sample, rate):
    text = f"name: t\nsample: {sample}\nlimits: {{voltage: {{max: 4 V}}}}\n" + (
        f"steps: [{{type: galvanostatic, c_rate: {rate}, end: [{{time: 1 s}}]}}]"
    )
    with pytest.raises(Exception, match="C-rate needs the capacity basis"):
        load_protocol_text(text, "t.yaml")


def test_explicit_nominal_capacity_and_bad_c_rates():
    p = load_protocol_text(
        "name: t\nsample: {nominal_capacity: 1 mAh}\nlimits: {voltage: {max: 4 V}}\n"
        "steps: [{type: galvanostatic, c_rate: -C/2, end: [{time: 1 s}]}]",
        "t.yaml",
    )
    assert p.sample.capacity_basis()[0] == pytest.approx(3.6)
    for bad in ("0.1 A", "fast", "0 C"):
        with pytest.raises(Exception, match="C-rate"):
            load_protocol_text(
                HEAD + f"steps: [{{type: galvanostatic, c_rate: '{bad}', end: [{{time: 1 s}}]}}]",
                "t.yaml",
            )


def test_charge_cutoff_ends_the_step_at_the_crossing_sample():
    cell = FakeCell(script=lambda t, v, i: (np.full_like(t, 3.4) + 0.0107 * t, i))
    result, col, _ = run_yaml(
        "steps: [{type: galvanostatic, c_rate: 0.1 C, end: [{voltage_above: 3.85 V}, {time: 1 h}]}]",
        FakeStation.full(cell),
        head=HEAD,
    )
    ((criterion, t),) = ends(col)
    assert criterion == "voltage_above"
    assert t == pytest.approx(0.45 / 0.0107, abs=0.11)  # 3.4 V + 10.7 mV/s crosses at 42.06 s
    v = col.stream("electro")["voltage"]
    assert v[-1] > 3.85 and (v[:-1] <= 3.85).all()  # the last sample kept is the crossing one


def cc_then_cv(start: float, slope: float, level: float, tau: float = 20.0):
    """A cell whose V moves at ``slope`` V/s from ``start`` under CC; held at ``level`` (CV)
    its current decays with ``tau`` from the CC current."""
    t_cv = (level - start) / slope

    def script(t, v, i):
        if np.allclose(v, level):  # potentiostatic at the CV level: the current tapers
            i_cc = np.sign(slope) * CAPACITY_C / 3600.0
            return v, i_cc * np.exp(-(t - t_cv) / tau)
        return start + slope * t, i

    return script, t_cv


@pytest.mark.parametrize(
    ("rate", "level", "slope", "taper"),
    [("1 C", 3.85, 0.01, "taper_current: 0.068 mA"),
     ("-1 C", 2.5, -0.01, "taper_c_rate: C/10")],
    ids=["charge-taper-current", "discharge-taper-c-rate"],
)  # fmt: skip
def test_cccv_switches_to_cv_at_the_crossing_and_ends_on_the_taper(rate, level, slope, taper):
    script, t_cv = cc_then_cv(3.4, slope, level)
    result, col, st = run_yaml(
        f"steps: [{{type: cccv, c_rate: {rate}, voltage: {level} V, {taper}, end: [{{time: 1 h}}]}}]",
        FakeStation.full(FakeCell(script=script)),
        head=HEAD,
    )
    assert result.status == "success", result
    current = CAPACITY_C / 3600.0
    calls = [c for c in st.potentiostat.calls if c[0] in ("set_current", "set_voltage")]
    assert calls[0] == ("set_current", (pytest.approx(np.sign(slope) * current), 4.2))
    assert calls[1] == ("set_voltage", (level, pytest.approx(current)))
    v = col.stream("electro")["voltage"]
    cc = v[v != level]
    assert (np.sign(slope) * (cc[:-1] - level) < 0).all()  # CC up to the crossing sample only
    ((criterion, t),) = ends(col)
    assert criterion == "current_below"
    assert t == pytest.approx(t_cv + 20.0 * np.log(10.0), abs=0.25)  # |I| from 0.68 to 0.068 mA
    assert result.outcomes == [] and not col.kinds("outcome")  # tapering is no run outcome
    rates = col.kinds("c_rate")
    if "c_rate" in taper:
        assert rates[-1].data["current_A"] == pytest.approx(0.1 * CAPACITY_C / 3600.0)
        assert "4 mg/cm2" in rates[-1].data["basis"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [("voltage: 3.85 V", "exactly one of 'taper_current' or 'taper_c_rate'"),
     ("voltage: 3.85 V, taper_current: 0.01 mA, taper_c_rate: C/20", "exactly one"),
     ("voltage: 3.85 V, taper_c_rate: 0 C", "C-rate")],
)  # fmt: skip
def test_cccv_needs_exactly_one_taper(fields, message):
    with pytest.raises(Exception, match=message):
        load_protocol_text(HEAD + f"steps: [{{type: cccv, c_rate: 0.1 C, {fields}}}]", "t.yaml")


def test_a_taper_c_rate_without_a_capacity_basis_is_refused():
    text = ("name: t\nsample: {area: 1 cm2}\nlimits: {voltage: {max: 4.2 V}}\n"
            "steps: [{type: cccv, current: 0.1 mA, voltage: 3.85 V, taper_c_rate: C/20}]")  # fmt: skip
    with pytest.raises(Exception, match="taper_c_rate.*C-rate needs the capacity basis"):
        load_protocol_text(text, "t.yaml")


def body(**extra) -> str:
    fields = {"c_rate": "0.2 C", "cycles": 3, "charge_cutoff": "3.85 V",
              "discharge_cutoff": "2.5 V", **extra}  # fmt: skip
    inner = ", ".join(f"{k}: {v}" for k, v in fields.items())
    return f"steps: [{{type: galvanostatic_cycling, {inner}}}]"


def test_galvanostatic_cycling_expands_to_formation_then_cycles():
    p = load_protocol_text(
        HEAD + body(formation_cycles=1, formation_c_rate="C/10", rest="10 min"), "t.yaml"
    )
    steps = list(compile_protocol(p)["main"].steps())
    kinds = [(s.step.type, s.step.c_rate) for s in steps if s.step.type != "rest"]
    assert kinds == [("galvanostatic", 0.1), ("galvanostatic", -0.1),
                     ("galvanostatic", 0.2), ("galvanostatic", -0.2)]  # fmt: skip
    charge = steps[0].step
    guard = next(c for c in charge.end if c.result == "runaway_charge")
    assert guard.time == pytest.approx(1.5 * 36000.0) and guard.action == "stop"
    assert {c.criterion for c in charge.end} == {"voltage_above", "time"}


def test_cycling_stops_on_a_runaway_charge_that_never_reaches_the_cutoff():
    stalled = FakeCell(script=lambda t, v, i: (np.full_like(t, 3.45), i))  # a shorted cell
    result, col, _ = run_yaml(
        textwrap.dedent(body(c_rate="10 C")) + "\nsampling: {rate: 1 Hz}\n",
        FakeStation.full(stalled),
        head=HEAD,
    )
    assert result.status == "stopped", result
    ((criterion, t),) = ends(col)
    assert criterion == "time" and t == pytest.approx(1.5 * 3600 / 10, abs=1.1)
    assert [o["result"] for o in result.outcomes] == ["runaway_charge"]


def test_cc_cv_runaway_guard_watches_the_cc_phase_only():
    """A CC phase that never reaches 3.85 V stops the run (runaway charge); a CV phase that
    takes longer than the guard (normal at high rates) does not: it is capped and moves on."""
    stalled = FakeCell(script=lambda t, v, i: (np.full_like(t, 3.45), i))
    result, col, _ = run_yaml(
        body(c_rate="10 C", cycles=1, cv_taper_c_rate="C/20") + "\nsampling: {rate: 1 Hz}\n",
        FakeStation.full(stalled),
        head=HEAD,
    )
    assert result.status == "stopped", result
    assert ends(col)[0] == ("time", pytest.approx(1.5 * 360.0, abs=1.1))
    assert [o["result"] for o in result.outcomes] == ["runaway_charge"]

    def slow_cv(t, v, i):  # at 3.9 V on CC; on CV at 3.85 V 1 mA that never tapers to C/20
        held = bool(np.all(v == 3.85))
        return (v, np.full_like(t, 1e-3)) if held else (np.full_like(t, 3.9), i)

    result, col, _ = run_yaml(
        body(c_rate="10 C", cycles=1, cv_taper_c_rate="C/20") + "\nsampling: {rate: 1 Hz}\n",
        FakeStation.full(FakeCell(script=slow_cv)),
        head=HEAD,
    )
    assert result.status == "success", result
    (criterion, t), *_ = ends(col)
    assert criterion == "time" and t == pytest.approx(3.5 * 360.0, abs=1.1)
    assert "runaway_charge" not in [o["result"] for o in result.outcomes]


def test_rate_test_and_cc_cv_variant_expand():
    p = load_protocol_text(
        HEAD + "steps: [{type: rate_test, c_rates: [0.1 C, 0.2 C, 0.5 C], charge_cutoff: 3.85 V,"
        " discharge_cutoff: 2.5 V, cv_taper_current: 0.01 mA}]",
        "t.yaml",
    )
    steps = list(compile_protocol(p)["main"].steps())
    assert [s.step.c_rate for s in steps] == [0.1, -0.1, 0.2, -0.2, 0.5, -0.5]
    assert [s.step.type for s in steps[::2]] == ["cccv"] * 3
    with pytest.raises(Exception, match="discharge_cutoff must be below"):
        load_protocol_text(HEAD + body(discharge_cutoff="4 V"), "t.yaml")


def discharging_cell(cross_after: float):
    """Charges to 3.9 V at once; on discharge V falls from 3.4 V and crosses 2.5 V after
    ``cross_after`` s of discharge (a cell that delivers that share of its nominal time)."""
    start: list[float] = []

    def script(t, v, i):
        if (i >= 0).all():
            return np.full_like(t, 3.9), i
        start.append(float(t[0])) if not start else None
        return 3.4 - 0.9 * (t - start[0]) / cross_after, i

    return script


@pytest.mark.parametrize(("share", "status"), [(0.5, "stopped"), (0.95, "success")])
def test_stop_on_fade_stops_a_discharge_short_of_the_share_of_the_basis(share, status):
    nominal = 3600.0 / 10.0  # s at 10 C
    result, col, _ = run_yaml(
        body(c_rate="10 C", cycles=1, stop_on_fade="80 %") + "\nsampling: {rate: 1 Hz}\n",
        FakeStation.full(FakeCell(script=discharging_cell(share * nominal))),
        head=HEAD,
    )
    assert result.status == status, result
    (end,) = [e for e in col.kinds("step_end") if e.data.get("criterion") == "voltage_below"]
    e = col.stream("electro")
    below = e["time"][(e["current"] < 0) & (e["voltage"] < 2.5)]
    assert end.data["at"] == below[0]  # the step ended at the crossing sample
    start = next(
        x.time for x in col.kinds("step_start") if x.data["meta"].get("phase") == "discharge"
    )
    assert end.data["at"] - start == pytest.approx(share * nominal, abs=2.1)  # 1 Hz sampling
    results = [o["result"] for o in result.outcomes]
    assert results == (["capacity_fade"] if status == "stopped" else [])


def test_stop_on_fade_expands_to_an_armed_cutoff_and_a_stop():
    p = load_protocol_text(HEAD + body(stop_on_fade="80 %", formation_cycles=1), "t.yaml")
    steps = [s.step for s in compile_protocol(p)["main"].steps()]
    formation, cycling = steps[1], steps[3]
    assert len(formation.end) == 2  # formation discharges are not judged
    armed, stop, _ = cycling.end
    assert armed.voltage_below == stop.voltage_below == 2.5
    assert armed.after == pytest.approx(0.8 * 3600 / 0.2) and armed.action is None
    assert stop.action == "stop" and stop.result == "capacity_fade" and stop.after is None
    with pytest.raises(Exception, match="not with cv_discharge"):
        load_protocol_text(
            HEAD + body(stop_on_fade="80 %", cv_taper_c_rate="C/20", cv_discharge="true"), "t.yaml"
        )
    with pytest.raises(Exception, match="cv_discharge needs a taper"):
        load_protocol_text(HEAD + body(cv_discharge="true"), "t.yaml")


def test_cv_discharge_option_makes_both_halves_cccv():
    p = load_protocol_text(HEAD + body(cv_taper_c_rate="C/20", cv_discharge="true"), "t.yaml")
    charge, discharge = (s.step for s in list(compile_protocol(p)["main"].steps())[:2])
    assert (charge.type, charge.voltage, charge.taper_c_rate) == ("cccv", 3.85, 0.05)
    assert (discharge.type, discharge.voltage, discharge.c_rate) == ("cccv", 2.5, -0.2)


ROOT = Path(__file__).resolve().parents[1]


def test_cutoff_ended_cycles_are_estimated_from_the_capacity_basis():
    p = load_protocol(ROOT / "examples/protocols/full_cell_lfp_50_cycles.yaml")
    e = estimate(p)
    assert e.duration == pytest.approx(50 * (2 * 36000.0 + 2 * 600.0))  # 10 h per half at 0.1 C
    assert e.charge_stripped == pytest.approx(50 * CAPACITY_C)
    assert e.estimated and not e.open_ended and not e.exact
    lines = validate(p).lines()
    assert lines[0].startswith("expected duration: about 1016:40:00")
    assert any(line.startswith("estimate: ") and "capacity basis" in line for line in lines)


def test_estimate_follows_the_stored_charge_and_counts_cv_phases_as_zero():
    p = load_protocol_text(
        HEAD + "steps:\n  - {type: galvanostatic, c_rate: 0.5 C, end: [{time: 1 h}]}\n"
        "  - {type: rate_test, c_rates: [1 C, 2 C], charge_cutoff: 3.85 V, discharge_cutoff: 2.5 V,"
        " cv_taper_c_rate: C/20}\n",
        "t.yaml",
    )
    e = estimate(p)
    # 1 h at 0.5 C leaves half the window: CC charge 0.5 h at 1 C, CV 0; discharge 1 h at 1 C;
    # then 0.5 h charge and 0.5 h discharge at 2 C
    assert e.duration == pytest.approx(3600 + 1800 + 3600 + 1800 + 1800)
    assert e.estimated and not e.open_ended


def test_fade_and_runaway_guards_do_not_end_the_estimate():
    p = load_protocol_text(HEAD + body(stop_on_fade="80 %", rest="10 min"), "t.yaml")
    e = estimate(p)
    assert e.duration == pytest.approx(3 * (2 * 18000.0 + 2 * 600.0))  # 3 cycles at 0.2 C


def test_without_a_basis_a_stop_guard_is_not_taken_as_the_end_of_a_cutoff_step():
    p = load_protocol_text(
        "name: t\nsample: {area: 1 cm2}\nlimits: {voltage: {max: 4.2 V}}\nsteps:\n"
        "  - {type: galvanostatic, current: 0.1 mA, end: [{voltage_above: 3.85 V}, {time: 6 h, action: stop}]}\n"
        "  - {type: rest, end: [{time: 10 min}]}\n",
        "t.yaml",
    )
    e = estimate(p)
    assert e.duration == pytest.approx(600.0) and e.open_ended == ["steps[0]"]
    assert validate(p).lines()[0].startswith("expected duration: at least 0:10:00")


def test_a_strip_to_a_cutoff_without_a_basis_returns_what_was_plated():
    p = load_protocol(ROOT / "examples/protocols/half_cell_host_ce.yaml")
    e = estimate(p)
    assert e.duration == pytest.approx(3 * (12 * 3600 + 12 * 3600 + 2 * 300))
    assert e.charge_stripped == pytest.approx(e.charge_plated)


@pytest.mark.parametrize(
    "example", sorted((ROOT / "examples/protocols").glob("*.yaml")), ids=lambda p: p.stem
)
def test_validate_gives_every_example_a_duration(example):
    e = estimate(load_protocol(example))
    assert e.duration > 0 and not e.unbounded
    if example.stem in ("full_cell_lfp_short", "full_cell_lfp_50_cycles", "full_cell_lfp_rate_test",
                        "half_cell_host_ce", "alloy_constant_gap"):  # fmt: skip
        assert not e.open_ended and e.estimated


def test_a_full_cell_runs_without_the_li_metal_detectors_as_offline():
    """Void/short detectors assume Li-metal electrodes near 0 V: offline analysis skips them for
    cells with a cathode, and so does the run (no void alarm at every discharge's end)."""
    from daq.session import live_detectors

    assert live_detectors(load_protocol(ROOT / "examples/protocols/full_cell_lfp_short.yaml")) == []
    li_li = load_protocol(ROOT / "examples/protocols/ccd_ramp.yaml")
    assert {type(d).__name__ for d in live_detectors(li_li)} == {
        "VoidOnsetDetector",
        "ShortDetector",
    }
