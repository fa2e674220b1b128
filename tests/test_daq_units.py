"""Quantity parsing at the edges: lab shorthand in, SI floats out, clear errors."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daq.units import UnitError, format_quantity, parse_quantity


@pytest.mark.parametrize(
    ("text", "kind", "si"),
    [
        ("0.5 mA/cm2", "current_density", 5.0),
        ("5 MPa", "pressure", 5e6),
        ("30 min", "time", 1800.0),
        ("55 degC", "temperature", 328.15),
        ("1 mAh/cm2", "areal_capacity", 36.0 / 1e-4 * 1e-3 * 100),
        ("1 cm2", "area", 1e-4),
        ("1 cm^2", "area", 1e-4),
        ("-2 V", "voltage", -2.0),
        ("10 ohm*cm2", "area_resistance", 1e-3),
        ("2 kN", "force", 2000.0),
    ],
)
def test_parses_lab_shorthand_to_si(text, kind, si):
    assert parse_quantity(text, kind) == pytest.approx(si)


@pytest.mark.parametrize(
    ("value", "kind", "fragment"),
    [
        ("5 MPaa", "pressure", "cannot parse"),
        ("5 V", "pressure", "expected a pressure"),
        (5, "pressure", "needs a unit"),
        ("nan V", "voltage", "finite"),
        (True, "voltage", "with a unit"),
        ([1], "voltage", "expected text"),
    ],
)
def test_bad_quantities_name_field_and_value(value, kind, fragment):
    with pytest.raises(UnitError) as err:
        parse_quantity(value, kind, field="steps[2].current")
    message = str(err.value)
    assert fragment in message
    assert "steps[2].current" in message
    assert repr(value) in message


def test_format_quantity_round_trip():
    assert format_quantity(5e6, "pressure", "MPa") == "5 MPa"


@given(st.text(max_size=30))
def test_arbitrary_text_never_escapes_as_another_error(text):
    try:
        parse_quantity(text, "current_density", field="j")
    except UnitError:
        pass
