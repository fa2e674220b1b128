"""Constant gap: the rig holds the actuator and records the pressure the cell itself makes.

Real drivers over a pty and loopback TCP, against the press emulators on a SimWorld whose cell
is the alloy-anode full cell (its height follows its lithiation, issue 14): the load-cell +
screw rig (the driver holds the gap) and the integrated controller (``AGP``: the device holds
the gap and trips itself).
"""

from __future__ import annotations

import pytest

from drivers.errors import SetpointError
from drivers.pressure_rig import ForceLimitExceeded
from drivers.registry import open_driver
from sim_instruments import calibration_cells as cc
from sim_instruments.lineserver import PtyLineServer, TcpLineServer
from sim_instruments.press_devices import (
    LoadCellIndicatorEmulator,
    PressureControllerEmulator,
    ScrewActuatorEmulator,
)

SETTINGS = {
    "area": "1 cm2", "max_pressure": "30 MPa", "stiffness": "10 N/um", "step_size": "0.1 um",
    "loadcell": {"timeout": "0.3 s"}, "actuator": {"timeout": "0.3 s"},
}  # fmt: skip


@pytest.fixture
def rig_on_alloy_cell():
    clock, world = cc.new_cell_world("full_alloy", initial_pressure_Pa=1e6)
    servers = [
        PtyLineServer(LoadCellIndicatorEmulator(world)),
        TcpLineServer(ScrewActuatorEmulator(world)),
    ]
    resource = {"loadcell": servers[0].port, "actuator": servers[1].serial_url}
    rig = open_driver("loadcell_actuator_rig", "rig", resource, SETTINGS, clock)
    with clock.participant():
        yield clock, world, rig
    rig.close()
    for server in servers:
        server.close()


def charge(clock, world, rig, seconds: float, period: float = 60.0) -> list[float]:
    """Charge at 1 C for ``seconds`` while servicing the rig; the pressures read."""
    world.electro_source("current", world.truth()["cathode_capacity_C"] / 3600.0, 5.0)
    pressures = []
    end = clock.now() + seconds
    while clock.now() < end:
        clock.sleep(period)
        rig.service()
        pressures.append(rig.read().pressure)
    return pressures


def test_constant_gap_holds_the_position_and_records_the_swelling(rig_on_alloy_cell):
    clock, world, rig = rig_on_alloy_cell
    rig.hold_gap()
    steps = world.actuator_steps()
    pressures = charge(clock, world, rig, 1800.0)
    assert world.actuator_steps() == steps  # the gap is held
    assert rig.mode == "constant_gap"
    assert pressures[-1] - pressures[0] > 0.3e6  # the alloy swells against the platens
    truth = world.truth()["pressure_Pa"][-1]
    assert pressures[-1] == pytest.approx(truth, abs=0.02e6)  # load-cell noise and drift only


def test_constant_gap_trips_on_the_pressure_rise(rig_on_alloy_cell):
    clock, world, rig = rig_on_alloy_cell
    rig.hold_gap(max_rise=0.2e6)
    with pytest.raises(ForceLimitExceeded, match="constant-gap limit"):
        charge(clock, world, rig, 3600.0)
    assert rig.mode == "released"


def test_constant_gap_refuses_a_rise_limit_out_of_range(rig_on_alloy_cell):
    _, _, rig = rig_on_alloy_cell
    with pytest.raises(SetpointError, match="max_rise"):
        rig.hold_gap(max_rise=-1.0)
    assert rig.mode != "constant_gap"


PROTOCOL = """\
name: constant-gap alloy anode
sample: {area: 1 cm2, nominal_capacity: 0.68 mAh}
sampling: {rate: 0.1 Hz, slow_rate: 0.1 Hz}
limits: {voltage: {min: 2 V, max: 4.2 V}, current: 5 mA, pressure: {max: 20 MPa}}
tracks:
  echem:
    - {type: galvanostatic, c_rate: 0.5 C, end: [{voltage_above: 3.85 V}, {time: 20 min}]}
  press:
    - {type: constant_gap, max_rise: %s, end: [{time: 20 min}]}
"""
STATION = """\
name: alloy
simulation: {preset: peo, cell: full_alloy, area: 1 cm2, initial_pressure: 1 MPa, seed: 2}
instruments:
  cell: {driver: keithley2450, resource: "sim://keithley2450", settings: {voltage_limit: 5 V}}
  press: {driver: loadcell_actuator_rig, resource: "sim://loadcell_actuator", settings: {area: 1 cm2, max_pressure: 30 MPa, step_size: 0.1 um, stiffness: 10 N/um, period: 10 s}}
"""


def run_gap(max_rise: str, station: str = STATION):
    from daq.station import Station, parse_station_config
    from protocols.engine import Engine
    from protocols.loader import load_protocol_text

    protocol = load_protocol_text(PROTOCOL % max_rise, "gap.yaml")
    with Station.open(parse_station_config(station)) as station:
        steps = station.lab.world.actuator_steps()
        result = Engine(protocol, station, []).run()
        return result, station.lab.world, steps


def test_constant_gap_step_runs_on_the_twin_and_trips_on_the_rise():
    result, world, steps = run_gap("10 MPa")
    assert result.status == "success", result
    assert world.actuator_steps() == steps
    assert world.truth()["pressure_Pa"].max() > 1.1e6  # the alloy pushed on the platens
    tripped, _, _ = run_gap("0.05 MPa")
    assert tripped.status in ("tripped", "failed"), tripped
    assert "constant-gap limit" in tripped.reason


# -- the integrated pressure controller: constant gap on the device (``AGP``), over the wire --
@pytest.fixture(params=["pty", "socket"])
def controller_on_alloy_cell(request):
    clock, world = cc.new_cell_world("full_alloy", initial_pressure_Pa=1e6)
    device = PressureControllerEmulator(world, area_m2=1e-4, max_pressure_Pa=50e6)
    server = PtyLineServer(device) if request.param == "pty" else TcpLineServer(device)
    resource = server.port if request.param == "pty" else server.serial_url
    rig = open_driver("pressure_controller", "pc", resource,
                      {"max_pressure": "30 MPa", "timeout": "0.3 s"}, clock)  # fmt: skip
    with clock.participant():
        yield clock, world, device, rig
    rig.close()
    device.stop()
    server.close()


def test_controller_constant_gap_holds_the_position_and_records_the_swelling(
    controller_on_alloy_cell,
):
    clock, world, device, rig = controller_on_alloy_cell
    rig.hold_gap(max_rise=5e6)
    assert device.mode == "GAP" and rig.frame.setpoint == pytest.approx(6e6, abs=0.02e6)
    steps = world.actuator_steps()
    pressures = charge(clock, world, rig, 1800.0)
    assert world.actuator_steps() == steps  # the controller holds the gap
    assert pressures[-1] - pressures[0] > 0.3e6  # the alloy swells against the platens
    assert pressures[-1] == pytest.approx(world.truth()["pressure_Pa"][-1], abs=0.02e6)


def test_controller_trips_on_the_pressure_rise_and_releases(controller_on_alloy_cell):
    clock, world, device, rig = controller_on_alloy_cell
    rig.hold_gap(max_rise=0.2e6)
    with pytest.raises(ForceLimitExceeded, match="constant-gap limit"):
        charge(clock, world, rig, 3600.0)
    assert device.mode == "EXH" and device.error_code == 8
    rig.release()  # the safe state still works with the error latched
    assert rig.frame.mode == "EXH" and rig.frame.position <= 0.0


def test_controller_refuses_a_rise_limit_out_of_range(controller_on_alloy_cell):
    _, _, device, rig = controller_on_alloy_cell
    with pytest.raises(SetpointError, match="max_rise"):
        rig.hold_gap(max_rise=40e6)
    assert device.mode != "GAP"


CONTROLLER_STATION = STATION.replace(
    'press: {driver: loadcell_actuator_rig, resource: "sim://loadcell_actuator", settings: {area: 1 cm2, max_pressure: 30 MPa, step_size: 0.1 um, stiffness: 10 N/um, period: 10 s}}',
    'press: {driver: pressure_controller, resource: "sim://pressure_controller", settings: {max_pressure: 30 MPa}}',
)


def test_constant_gap_step_runs_on_the_controller_twin_and_trips_on_the_rise():
    assert "pressure_controller" in CONTROLLER_STATION
    result, world, steps = run_gap("10 MPa", CONTROLLER_STATION)
    assert result.status == "success", result
    assert world.actuator_steps() == steps
    assert world.truth()["pressure_Pa"].max() > 1.1e6
    tripped, _, _ = run_gap("0.05 MPa", CONTROLLER_STATION)
    assert tripped.status in ("tripped", "failed"), tripped
    assert "constant-gap limit" in tripped.reason
