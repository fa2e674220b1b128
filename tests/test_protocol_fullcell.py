"""Full-cell protocols: C-rates from the sample's capacity basis, cut-offs, CC-CV, templates."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from protocols_fakes import FakeCell, FakeStation
from protocols_helpers import run_yaml

from protocols.loader import load_protocol_text
from protocols.program import compile_protocol

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


def test_cccv_holds_the_voltage_by_compliance_and_ends_on_the_taper_current():
    def cccv(t, v, i):  # CC until 3.85 V at 45 s, then the current decays (tau 20 s)
        i = np.where(t < 45.0, i, i * np.exp(-(t - 45.0) / 20.0))
        return np.minimum(3.4 + 0.01 * t, 3.85), i

    result, col, st = run_yaml(
        "steps: [{type: cccv, c_rate: 1 C, voltage: 3.85 V, taper_current: 0.068 mA,"
        " end: [{time: 1 h}]}]",
        FakeStation.full(FakeCell(script=cccv)),
        head=HEAD,
    )
    current = CAPACITY_C / 3600.0
    assert ("set_current", (pytest.approx(current), 3.85)) in st.potentiostat.calls
    ((criterion, t),) = ends(col)
    assert criterion == "current_below"
    assert t == pytest.approx(45.0 + 20.0 * np.log(current / 0.068e-3), abs=0.2)


def test_cccv_refuses_a_current_that_drives_away_from_the_voltage():
    with pytest.raises(Exception, match="same sign"):
        load_protocol_text(
            HEAD + "steps: [{type: cccv, c_rate: -0.1 C, voltage: 3.85 V, taper_current: 0.01 mA}]",
            "t.yaml",
        )


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
