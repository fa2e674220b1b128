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
    settings: {area: 1 cm2, max_pressure: 30 MPa, step_size: 0.1 um, stiffness: 20 N/um}
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


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "voltage_limit: 5 V",
            "voltag_limit: 5 V",
            "bench.yaml:7: instruments.cell.settings.voltag_limit: unknown setting; "
            "did you mean 'voltage_limit'?",
        ),
        (
            "voltage_limit: 5 V",
            "voltage_limit: 500 V",
            "bench.yaml:7: instruments.cell.settings.voltage_limit: above the instrument's "
            "maximum 210 V (got '500 V')",
        ),
        (
            "max_pressure: 30 MPa",
            "max_pressure: 30 mA",
            "bench.yaml:11: instruments.press.settings.max_pressure: expected a pressure",
        ),
        (
            "step_size: 0.1 um, ",
            "",
            "bench.yaml:11: instruments.press.settings.step_size: required setting missing",
        ),
        (
            "stiffness: 20 N/um",
            "stiffness: 20 N",
            "bench.yaml:11: instruments.press.settings.stiffness: expected a quantity in N/m",
        ),
        (
            "{area: 1 cm2,",
            "{area: 1 cm2, loadcell: {baudrat: 9600},",
            "instruments.press.settings.loadcell.baudrat: unknown setting; did you mean 'baudrate'?",
        ),
    ],
)
def test_driver_settings_are_checked_against_the_driver_schema(old, new, expected):
    assert expected in _error(GOOD.replace(old, new))


def test_every_settings_problem_is_reported_at_once():
    text = GOOD.replace("voltage_limit: 5 V", "voltag_limit: 5 V").replace("30 MPa", "30 mA")
    assert len(_error(text).splitlines()) == 2


SIM = """\
name: simbench
simulation:
  preset: llzo
  seed: 1
instruments:
  cell:
    driver: keithley2450
    resource: sim://keithley2450
"""


def test_sim_resource_must_name_the_driver_twin():
    message = _error(SIM.replace("sim://keithley2450", "sim://keithley2451"))
    assert message.startswith("bench.yaml:8: instruments.cell.resource: no simulated twin")
    assert "use 'sim://keithley2450'" in message
    assert parse_station_config(SIM.replace("sim://keithley2450", "sim://")).simulated


def test_simulation_section_is_checked_with_lines():
    message = _error(SIM.replace("preset: llzo", "preset: llzoo\n  temprature: 25 degC"))
    assert "bench.yaml:3: simulation.preset: unknown 'llzoo'; known: llzo" in message
    assert (
        "bench.yaml:4: simulation.temprature: unknown key; did you mean 'temperature'?" in message
    )
    assert "bench.yaml:4: simulation.area: expected a area" in _error(
        SIM.replace("seed: 1", "area: 1 mA")
    )


def test_station_open_checks_a_config_built_without_the_loader():
    from daq.station import Station, StationConfig

    config = StationConfig.model_validate(
        {
            "name": "x",
            "instruments": {
                "cell": {
                    "driver": "keithley2450",
                    "resource": "sim://keithley2450",
                    "settings": {"voltage_limit": "500 V"},
                }
            },
        }
    )
    with pytest.raises(ConfigError, match="<station>: instruments.cell.settings.voltage_limit"):
        Station.open(config)


def test_driver_schemas_match_what_the_drivers_parse():
    from drivers import keithley2450
    from drivers.serial_transport import SERIAL_KEYS
    from drivers.settings import SERIAL

    assert set(keithley2450.SETTINGS) == set(keithley2450.Keithley2450Settings.__dataclass_fields__)
    assert set(SERIAL) == set(SERIAL_KEYS)


def test_drivers_refuse_at_open_what_the_station_check_refuses():
    from drivers.pressure_rig import SETTINGS
    from drivers.settings import DriverSettings

    with pytest.raises(ValueError, match="press.max_pressure: expected a pressure"):
        DriverSettings("press", {"area": "1 cm2", "max_pressure": "30 mA"}, SETTINGS)
