"""Station files: validation with file/line/field/value errors."""

import pytest

from daq.station import load_station_config, parse_station_config
from daq.yamlconfig import ConfigError

GOOD = """\
name: bench2
instruments:
  cell:
    driver: keithley2450
    resource: TCPIP0::192.168.1.20::5025::SOCKET
    settings:
      voltage_limit: 5 V
  press:
    driver: loadcell_actuator_rig
    resource: {loadcell: /dev/ttyUSB0, actuator: /dev/ttyUSB1}
    settings: {area: 1 cm2}
"""


def test_valid_station_parses_roles_and_resources():
    config = parse_station_config(GOOD)
    assert config.instruments["cell"].role == "potentiostat"
    assert config.instruments["press"].resource["actuator"] == "/dev/ttyUSB1"
    assert not config.simulated


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as err:
        parse_station_config(text, "bench.yaml")
    return str(err.value)


def test_misspelled_driver_names_line_field_value_and_known_drivers():
    message = _error(GOOD.replace("driver: keithley2450", "driver: keithly2450"))
    assert message.startswith("bench.yaml:4: instruments.cell.driver: unknown driver 'keithly2450'")
    assert "keithley2450" in message.split("known drivers:")[1]


def test_missing_field_is_named():
    message = _error(GOOD.replace("    resource: TCPIP0::192.168.1.20::5025::SOCKET\n", ""))
    assert "bench.yaml:3: instruments.cell.resource: Field required" in message


def test_unparsable_unit_is_named_with_its_line():
    message = _error(GOOD.replace("voltage_limit: 5 V", "voltage_limit: 5 MPaa"))
    assert "bench.yaml:7: instruments.cell.settings.voltage_limit: cannot parse" in message
    assert "'5 MPaa'" in message


def test_unknown_top_level_key_and_two_instruments_in_one_role():
    assert "bench.yaml:1: colour: Extra inputs are not permitted" in _error("colour: red\n" + GOOD)
    doubled = GOOD + "  cell2:\n    driver: keithley2450\n    resource: sim://keithley2450\n"
    assert "both have role 'potentiostat'" in _error(doubled)


def test_yaml_syntax_error_and_missing_file(tmp_path):
    assert _error("name: [unclosed\n").startswith("bench.yaml:2: YAML syntax error")
    with pytest.raises(ConfigError, match="cannot read"):
        load_station_config(tmp_path / "nope.yaml")


def test_shipped_example_station_is_valid():
    from pathlib import Path

    config = load_station_config(Path(__file__).parents[1] / "examples/stations/sim.yaml")
    assert config.simulated
