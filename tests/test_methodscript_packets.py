"""MethodSCRIPT wire format: the driver's parser against the twin's encoder, property-tested."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daq.clock import VirtualClock
from drivers.methodscript_packets import (
    decode_value,
    format_number,
    parse_error,
    parse_package,
)
from sim_instruments.lab import SimLab
from sim_instruments.methodscript import best_prefix, encode_value, parse_number

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).filter(
    lambda x: x == 0 or abs(x) > 1e-12
)


@given(finite)
def test_values_round_trip_through_the_wire_encoding(value):
    text = encode_value(value, best_prefix(value))
    assert len(text) == 8
    assert decode_value(text) == pytest.approx(value, rel=1e-5, abs=1e-15)  # 27-bit mantissa


@given(st.lists(st.tuples(st.sampled_from(["ab", "ba", "dc", "cc", "cd", "da"]), finite,
                          st.integers(0, 15), st.booleans()), min_size=1, max_size=6))  # fmt: skip
def test_packages_parse_with_metadata_and_nan(variables):
    parts = []
    for code, value, status, missing in variables:
        shown = math.nan if missing else value
        parts.append(f"{code}{encode_value(shown, best_prefix(shown))},1{status:X},2{status % 8:X}")
    package = parse_package("P" + ";".join(parts))
    assert [v.type for v in package.variables] == [c for c, *_ in variables]
    for parsed, (_, value, status, missing) in zip(package.variables, variables, strict=True):
        assert parsed.status == status and parsed.current_range == status % 8
        assert math.isnan(parsed.value) if missing else parsed.value == pytest.approx(value, rel=1e-5, abs=1e-15)  # fmt: skip
        assert parsed.overload == bool(status & 0x2)


@given(st.text(max_size=12))
def test_garbage_is_never_taken_for_a_value(text):
    try:
        value = decode_value(text)
    except ValueError:
        return
    assert text.strip().lower() == "nan" or (len(text) == 8 and math.isfinite(value))


@pytest.mark.parametrize("line", ["P", "Pxx", "Pab12345", "PAB8000000 ", "Pab8000000 ;", "Pab80000Z0m"])  # fmt: skip
def test_malformed_packages_raise_value_error(line):
    with pytest.raises(ValueError):
        parse_package(line)


def test_known_encodings_and_errors():
    assert decode_value("800000Am") == pytest.approx(0.01)
    assert decode_value("7FFFFF6m") == pytest.approx(-0.01)
    assert decode_value("8000000 ") == 0.0
    error = parse_error("!0004: Line 3, Col 12")
    assert (error.code, error.line, error.column) == (4, 3, 12)
    assert "invalid argument" in error.text and "line 3" in error.text
    assert parse_error("!000B").code == 11


@given(st.floats(min_value=1e-9, max_value=1e6) | st.floats(min_value=-1e6, max_value=-1e-9))
def test_script_numbers_round_trip(value):
    assert parse_number(format_number(value)) == pytest.approx(value, rel=2e-6)


def test_a_sim_station_serves_the_methodscript_twin():
    lab = SimLab(VirtualClock(), {"preset": "lpscl", "transport": "tcp"})
    try:
        resource = lab.serve("methodscript", "eis")
        assert resource.startswith("socket://")
        from drivers.registry import open_driver

        ms = open_driver("methodscript", "eis", resource, {"timeout": "0.5 s"}, lab.clock)
        try:
            assert ms.measure_eis(1e4, 100, 3, 0.01, 0.0).complete
        finally:
            ms.close()
    finally:
        lab.close()
