"""The step registry: one module per step type, and the same plan runs and is estimated."""

from __future__ import annotations

import textwrap

import pytest
from protocols_helpers import HEAD, run_yaml

from protocols.estimate import dry_run, estimate
from protocols.loader import load_protocol_text
from protocols.model import STEP_CLASSES
from protocols.program import compile_protocol
from protocols.steps import commands as c
from protocols.steps.registry import PRIMITIVE_STEPS, STEP_TYPES, role_of
from protocols.validate import validate


def load(body: str):
    return load_protocol_text(HEAD + textwrap.dedent(body), "t.yaml")


def test_every_step_type_is_one_module_with_its_schema_role_and_executor():
    assert set(STEP_TYPES) == {
        "rest", "galvanostatic", "potentiostatic", "current_interrupt", "goto", "signal",
        "set_pressure", "pressure_ramp", "pressure_hold", "set_temperature", "approach",
        "bias_hold", "bias_pulse_train", "frame_capture", "wait", "cccv", "constant_gap",
    }  # fmt: skip
    for name, kind in STEP_TYPES.items():
        assert kind.name == name
        assert kind.model.__module__ == f"protocols.steps.{name}"
        assert STEP_CLASSES[name] is kind.model  # the protocol schema is built from the registry
        assert (kind.execute is None) == (name == "goto")  # goto is a compiled jump
    assert set(PRIMITIVE_STEPS) == {k.model for k in STEP_TYPES.values()}


def test_allowed_criteria_come_from_the_step_module():
    with pytest.raises(Exception, match="'charge' cannot end a rest step"):
        load("steps: [{type: rest, end: [{charge: 1 mAh}]}]")
    p = load("steps: [{type: potentiostatic, voltage: 0.1 V, end: [{current_below: 1 uA}]}]")
    (ins,) = compile_protocol(p)["main"].steps()
    assert role_of(ins.step) == "potentiostat"


def test_a_plan_yields_commands_and_the_dry_run_reads_them():
    p = load("steps: [{type: current_interrupt, current: 1 mA, on_time: 10 s, off_time: 5 s}]")
    (ins,) = compile_protocol(p)["main"].steps()
    plan = STEP_TYPES["current_interrupt"].execute(ins.step, _ctx(p, ins))
    assert next(plan) == c.Source("current", 1e-3, 2.0)  # compliance from limits.voltage
    assert plan.send(None) == c.Sleep(10.0)
    run = dry_run(p, ins)
    assert run.duration == pytest.approx(15.0)
    assert run.charge == pytest.approx(1e-3 * 10.0)  # only the on-time passes charge
    assert c.Setpoint("current", 1e-3) in run.setpoints


def _ctx(protocol, ins):
    from protocols.estimate import context

    return context(protocol, ins)


@pytest.mark.parametrize(
    "body",
    [
        """
        steps:
          - {type: rest, end: [{time: 20 s}]}
          - {type: current_interrupt, current: 1 mA, on_time: 10 s, off_time: 5 s}
          - type: loop
            count: 2
            steps:
              - {type: galvanostatic, current: 2 mA, end: [{charge: 0.01 C}]}
              - {type: galvanostatic, current: -2 mA, end: [{time: 3 s}]}
          - {type: bias_pulse_train, high: 1 V, low: 0 V, high_time: 2 s, low_time: 1 s, count: 3, current_limit: 1 uA}
        """,
        """
        tracks:
          echem:
            - {type: wait, until: event, event: go}
            - {type: galvanostatic, current: 1 mA, end: [{time: 30 s, action: stop}]}
            - {type: rest, end: [{time: 1 h}]}
          press:
            - {type: set_pressure, pressure: 1 MPa, rate: 0.1 MPa/s, wait: false}
            - {type: pressure_hold, end: [{time: 12 s}]}
            - {type: signal, name: go}
            - {type: pressure_hold, end: [{time: 2 h}]}
        """,
    ],
)
def test_the_estimate_agrees_with_what_runs(body):
    expected = estimate(load(body))
    result, col, _ = run_yaml(body)
    assert result.status in ("success", "stopped")
    assert expected.exact
    run_end = col.kinds("run_end")[0].time
    # the engine works on a 10 Hz grid: each step end lands on the next tick at most
    assert run_end == pytest.approx(expected.duration, abs=0.1 * (expected.step_count + 1))


def test_validate_lists_each_commanded_setpoint_once():
    p = load_protocol_text(
        "name: t\nlimits: {bias: 1 V}\nsteps:\n  - {type: bias_pulse_train, high: 0.5 V, low: -3 V, "
        "high_time: 1 s, low_time: 1 s, count: 50, current_limit: 1 uA}\n",
        "t.yaml",
    )
    problems = validate(p).problems
    assert (
        len(problems) == 1 and "bias 3 V is beyond the protocol's safety limit 1 V" in problems[0]
    )


def test_the_engine_refuses_a_step_whose_later_setpoint_is_beyond_the_limits():
    body = (
        "limits: {voltage: {min: -2 V, max: 2 V}, bias: 1 V}\n"
        "steps: [{type: bias_pulse_train, high: 0.5 V, low: -3 V, high_time: 1 s, low_time: 1 s, "
        "count: 2, current_limit: 1 uA}]"
    )
    result, col, station = run_yaml(body, head="name: t\n")
    assert result.status == "failed" and "bias setpoint" in result.reason
    assert "not commanded" in result.reason
    assert 0.5 not in [v for _, v in station.bias_holder.history]  # not even the legal pulse
