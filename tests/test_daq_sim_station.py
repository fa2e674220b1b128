"""A whole simulated station opened through real drivers over ptys and loopback sockets."""

import subprocess
import sys

import pytest

from daq.station import Station, parse_station_config
from drivers.roles import Potentiostat, PressureRig
from sim_instruments.lab import sim_config

STATION = """\
name: sim
simulation: {preset: llzo, seed: 3, area: 1 cm2, temperature: 25 degC}
instruments:
  cell: {driver: keithley2450, resource: "sim://keithley2450", settings: {voltage_limit: 5 V}}
  press: {driver: loadcell_actuator_rig, resource: "sim://loadcell_actuator", settings: {area: 1 cm2, max_pressure: 30 MPa, step_size: 0.1 um, stiffness: 10 N/um}}
"""


def test_sim_station_opens_real_drivers_on_emulators():
    config = parse_station_config(STATION)
    with Station.open(config) as station:
        assert station.clock.is_virtual
        cell = station.potentiostat
        assert isinstance(cell, Potentiostat)
        assert "2450" in cell.identity()
        assert isinstance(station.pressure_rig, PressureRig)
        cell.set_current(-1e-5, voltage_limit=5.0)  # plating 0.1 mA/cm2 on WE
        station.clock.sleep(60.0)
        reading = cell.read()
        assert reading.current == pytest.approx(-1e-5, rel=0.05)
        assert reading.voltage < 0  # plating on WE: V(WE) - V(CE) < 0
        snapshot = station.snapshot()
        assert snapshot["cell"]["driver"] == "keithley2450"
        assert station.safe_state() == []


def test_simulation_section_errors_name_the_key():
    with pytest.raises(ValueError, match="simulation.presett: unknown key"):
        sim_config({"presett": "llzo"})
    with pytest.raises(ValueError, match="simulation.area"):
        sim_config({"area": "1 cm"})


def test_sim_serve_prints_resources_and_stops():
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "daq.cli",
            "sim",
            "serve",
            "--station",
            "examples/stations/sim.yaml",
            "--seconds",
            "0.5",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "TCPIP0::127.0.0.1::" in out.stdout
    assert "/dev/pts/" in out.stdout


def test_cross_setting_refusal_names_the_station_file_and_line_before_any_open():
    from daq.yamlconfig import ConfigError

    text = STATION.replace("{voltage_limit: 5 V}", "{voltage_limit: 6 V, max_voltage: 5 V}")
    # each value alone is in range; together they are not, and the one schema says so at parse
    with pytest.raises(
        ConfigError, match=r"^bench.yaml:4: instruments.cell.settings.voltage_limit: above max"
    ):
        parse_station_config(text, "bench.yaml")
