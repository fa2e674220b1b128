"""Safety supervisor: each limit trips to the safe state, with debounce, within one tick."""

from __future__ import annotations

import numpy as np
import pytest
from protocols_fakes import FakeCell, FakeStation
from protocols_helpers import run_yaml

from protocols.model import Limits
from protocols.safety import Supervisor, Trip, sustained


def spike(at: float, value: float, width: float = 0.05):
    """A cell whose voltage jumps to ``value`` during [at, at + width)."""
    return FakeCell(script=lambda t, v, i: (np.where((t >= at) & (t < at + width), value, v), i))


def trip_of(result):
    assert result.status == "tripped", result.reason
    return result.trip


@pytest.mark.parametrize(
    ("limits", "step", "quantity"),
    [
        (
            "{voltage: {max: 0.5 V}}",
            "{type: galvanostatic, current: 1 mA, voltage_limit: 5 V, end: [{time: 10 s}]}",
            None,
        ),
        (
            "{voltage: {min: -1 V, max: 1 V}, current: 0.5 mA}",
            "{type: potentiostatic, voltage: 0.1 V, end: [{time: 10 s}]}",
            "current",
        ),
        (
            "{voltage: {max: 1 V}, current_density: 0.5 mA/cm2}",
            "{type: galvanostatic, current: 0.4 mA, end: [{time: 10 s}]}",
            "current_density",
        ),
        (
            "{voltage: {max: 1 V}, charge: 1 mC}",
            "{type: galvanostatic, current: 1 mA, end: [{time: 10 s}]}",
            "charge",
        ),
        (
            "{voltage: {max: 1 V}, capacity: 0.001 mAh/cm2}",
            "{type: galvanostatic, current: 1 mA, end: [{time: 10 s}]}",
            "capacity",
        ),
    ],
)
def test_electro_limits_trip(limits, step, quantity):
    surge = FakeCell(script=lambda t, v, i: (v, np.where(t >= 3.0, 2.5 * i, i)))  # I overshoots
    cell = {None: spike(3.0, 0.9), "current_density": surge}.get(quantity)
    result, col, st = run_yaml(
        f"limits: {limits}\nsteps: [{step}]",
        FakeStation.full(cell),
        head="name: s\nsample: {area: 1 cm2}\n",
    )
    trip = trip_of(result)
    assert trip.quantity == (quantity or "voltage")
    assert st.potentiostat.mode == "off"
    (event,) = col.kinds("limit_trip")
    assert event.data["quantity"] == trip.quantity and event.data["value"] == trip.value
    # reaction: from the crossing sample to output off, at most one tick (0.1 s at 10 Hz)
    assert 0 <= st.potentiostat.off_times[0] - trip.time <= 0.1 + 1e-9


def test_trip_time_of_charge_limit():
    result, _, _ = run_yaml("limits: {voltage: {max: 1 V}, charge: 1 mC}\nsteps: [{type: galvanostatic, current: 1 mA, end: [{time: 10 s}]}]",
                            head="name: s\n")  # fmt: skip
    assert trip_of(result).time == pytest.approx(1.0, abs=0.11)


def overshooting() -> FakeStation:
    """Rig, oven and holder that overshoot their setpoints by half (setpoints are in limits)."""
    station = FakeStation.full()
    station.pressure_rig.gain = 1.5
    station.thermal.gain = 1.5
    station.bias_holder.overshoot = 1.5
    return station


def test_pressure_temperature_and_bias_limits_trip():
    result, _, st = run_yaml(
        "limits: {pressure: {max: 6 MPa}}\nsteps: [{type: set_pressure, pressure: 5 MPa}]",
        overshooting(),
        head="name: s\n",
    )
    assert trip_of(result).quantity == "pressure"
    assert st.pressure_rig.holding and not st.pressure_rig.released

    result, _, st = run_yaml("limits: {pressure: {max: 6 MPa}, on_trip_pressure: release}\nsteps: [{type: set_pressure, pressure: 5 MPa}]",
                             overshooting(), head="name: s\n")  # fmt: skip
    assert st.pressure_rig.released

    result, _, _ = run_yaml(
        "limits: {temperature: {max: 50 degC}}\nsteps: [{type: set_temperature, temperature: 45 degC}]",
        overshooting(),
        head="name: s\n",
    )
    assert trip_of(result).quantity == "temperature"

    result, _, st = run_yaml("limits: {bias: 5 V}\nsteps: [{type: bias_hold, voltage: 4 V, current_limit: 1 uA, end: [{time: 5 s}]}]",
                             overshooting(), head="name: s\n")  # fmt: skip
    assert trip_of(result).quantity == "bias"
    assert st.bias_holder.voltage == 0.0


def test_debounce_ignores_short_excursions():
    body = "steps: [{type: galvanostatic, current: 1 mA, voltage_limit: 5 V, end: [{time: 10 s}]}]"
    head = "name: s\nlimits: {voltage: {max: 0.5 V}, debounce: 3}\n"
    two = spike(3.0, 0.9, width=0.15)  # 2 samples
    result, _, _ = run_yaml(body, FakeStation.full(two), head=head)
    assert result.status == "success"
    three = spike(3.0, 0.9, width=0.25)  # 3 samples
    result, _, _ = run_yaml(body, FakeStation.full(three), head=head)
    assert trip_of(result).time == pytest.approx(3.2)


def test_trip_between_steps_and_on_other_tracks():
    """The supervisor does not care which step runs: a pressure trip ends an electro step."""
    body = """
    limits: {voltage: {max: 1 V}, pressure: {max: 3 MPa}}
    tracks:
      echem: [{type: galvanostatic, current: 1 mA, end: [{time: 60 s}]}]
      press: [{type: pressure_ramp, to: 2.5 MPa, rate: 0.5 MPa/s}]
    """
    result, col, st = run_yaml(body, overshooting(), head="name: s\n")
    assert trip_of(result).quantity == "pressure"
    assert st.potentiostat.mode == "off"
    assert col.events[-1].data["status"] == "tripped"


def test_sustained_carries_runs_across_blocks():
    need = 3
    hit, carry = sustained(np.array([False, True, True]), 0, need)
    assert (hit, carry) == (-1, 2)
    hit, carry = sustained(np.array([True, False]), carry, need)
    assert hit == 0
    hit, carry = sustained(np.array([True, True, True, False]), 0, need)
    assert (hit, carry) == (2, 0)


def test_supervisor_voltage_min_and_reset_of_step_charge():
    sup = Supervisor(
        Limits.model_validate({"voltage": {"min": "-1 V"}, "charge": "1 C"}), area=None
    )
    t = np.arange(5.0)
    assert sup.electro(t, np.zeros(5), np.full(5, 0.1)) is None
    sup.reset_step(4.0)
    trip = sup.electro(t + 5, np.array([0, 0, -2.0, 0, 0]), np.zeros(5))
    assert (trip.quantity, trip.time, trip.limit) == ("voltage", 7.0, -1.0)


def test_step_charge_counts_from_the_step_start():
    """The interval before a step's first sample carries charge too (1 mA for 1 s = 1 mC)."""
    sup = Supervisor(Limits.model_validate({"charge": "0.95 mC"}), area=None)
    sup.reset_step(0.0)
    t = np.arange(1, 21) * 0.1  # first reading one interval after the start, as on the 2450
    trip = sup.electro(t, np.zeros(20), np.full(20, 1e-3))
    assert trip.quantity == "charge" and trip.time == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("limits", "step", "fragment"),
    [
        ("{voltage: {max: 1 V}, current_density: 1 mA/cm2}", "{type: galvanostatic, current_density: 50 mA/cm2, end: [{time: 10 s}]}",
         "current setpoint 50 mA is beyond the run's limit 1 mA"),
        ("{voltage: {min: -1 V, max: 1 V}}", "{type: potentiostatic, voltage: 1.5 V, current_limit: 1 mA, end: [{time: 10 s}]}",
         "voltage setpoint 1.5 V is outside"),
        ("{pressure: {max: 6 MPa}}", "{type: set_pressure, pressure: 8 MPa}",
         "pressure setpoint 8 MPa is beyond the run's limit 6 MPa"),
        ("{temperature: {max: 50 degC}}", "{type: set_temperature, temperature: 60 degC}",
         "temperature setpoint 60 degC"),
        ("{bias: 5 V}", "{type: bias_hold, voltage: 10 V, current_limit: 1 uA, end: [{time: 5 s}]}",
         "bias setpoint 10 V"),
    ],
)  # fmt: skip
def test_setpoint_beyond_the_limits_is_never_commanded(limits, step, fragment):
    """Defence in depth: even past ``validate``, the engine refuses a setpoint beyond the limits."""
    station = FakeStation.full()
    result, _, st = run_yaml(f"limits: {limits}\nsteps: [{step}]", station,
                             head="name: s\nsample: {area: 1 cm2}\n")  # fmt: skip
    assert result.status == "failed" and fragment in result.reason, result.reason
    assert st.potentiostat.mode != "current" and st.pressure_rig.target == 0.0
    assert st.thermal.setpoint == 298.15 and st.bias_holder.voltage == 0.0


def test_the_sample_that_trips_is_recorded_whatever_the_record_rule():
    body = "record: {every: 60 s}\nsteps: [{type: galvanostatic, current: 1 mA, voltage_limit: 5 V, end: [{time: 10 s}]}]"
    result, col, _ = run_yaml(body, FakeStation.full(spike(3.0, 0.9)),
                              head="name: s\nlimits: {voltage: {max: 0.5 V}}\n")  # fmt: skip
    trip = trip_of(result)
    electro = col.stream("electro")
    assert electro["time"][-1] == trip.time and electro["voltage"][-1] == trip.value

    result, col, _ = run_yaml("limits: {pressure: {max: 6 MPa}}\nsteps: [{type: set_pressure, pressure: 5 MPa}]",
                              overshooting(), head="name: s\n")  # fmt: skip
    trip = trip_of(result)
    pressure = col.stream("pressure")
    assert pressure["time"][-1] == trip.time and pressure["pressure"][-1] == trip.value


def test_trip_and_stop_messages_carry_units():
    trip = Trip("voltage", 1.00003, 1.0, 12.5)
    assert trip.message() == "voltage 1.00003 V beyond limit 1 V at t=12.5 s"
    assert (
        "current_density 2 mA/cm2 beyond limit 1 mA/cm2"
        in Trip("current_density", 20.0, 10.0, 1).message()
    )
    assert "pressure 7.5 MPa beyond limit 6 MPa" in Trip("pressure", 7.5e6, 6e6, 1).message()
    body = (
        "steps: [{type: galvanostatic, current: 1 mA, end: [{voltage_above: 0.5 V, action: stop}]}]"
    )
    cell = FakeCell(script=lambda t, v, i: (np.where(t >= 2.0, 0.75, v), i))
    result, _, _ = run_yaml(
        body, FakeStation.full(cell), head="name: s\nlimits: {voltage: {max: 1 V}}\n"
    )
    assert result.status == "stopped"
    assert result.reason == "steps[0]: voltage_above 0.75 V -> stop", result.reason
