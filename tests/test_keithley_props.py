"""Property tests: strict validators, SCPI reply parsers, header matching, buffer ring."""

from __future__ import annotations

import math
import re
from collections import deque

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from drivers.errors import SetpointError
from drivers.keithley2450 import _trigger_state, _two_ints
from drivers.scpi import parse_bool, parse_error, parse_int, parse_number, parse_table
from drivers.validators import AllOf, InRange, Integer, OneOf, Symmetric
from sim_instruments.keithley2450 import ReadingBuffer
from sim_instruments.keithley2450 import _fmt as emulator_format
from sim_instruments.scpi import ScpiError, compile_pattern, split_outside_quotes

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
bounds = st.tuples(finite, finite).map(sorted)


#: integers a float64 holds exactly (setpoints are physical floats; 2**53 + 1 is not one)
exact_ints = st.integers(-(2**53), 2**53)


@given(bounds, st.one_of(finite, st.just(math.nan), st.just(math.inf), exact_ints))
def test_in_range_accepts_exactly_the_interval_and_never_clamps(lohi, value):
    low, high = lohi
    validator = InRange(low, high, "V", "test range")
    inside = math.isfinite(value) and low <= value <= high
    if inside:
        assert validator("smu", "voltage", value) == value
    else:
        with pytest.raises(SetpointError) as info:
            validator("smu", "voltage", value)
        err = info.value
        assert (err.instrument, err.parameter, err.value) == ("smu", "voltage", value)
        assert "test range" in str(err) and "smu" in str(err) and "voltage" in str(err)


@given(st.one_of(st.booleans(), st.text(max_size=5), st.none(), st.lists(finite, max_size=2)))
def test_non_numbers_are_refused(value):
    with pytest.raises(SetpointError):
        Symmetric(1.0)("smu", "current", value)


@given(st.integers(-100, 100), st.floats(-100, 100, allow_nan=False))
def test_integer_validator_refuses_floats(whole, real):
    validator = Integer(-50, 50)
    if -50 <= whole <= 50:
        assert validator("x", "n", whole) == whole
    else:
        with pytest.raises(SetpointError):
            validator("x", "n", whole)
    with pytest.raises(SetpointError):
        validator("x", "n", real)


@given(st.sampled_from(["HIMP", "NORM", "ZERO", "GUAR"]), st.randoms())
def test_one_of_is_case_insensitive_and_canonical(choice, rnd):
    mixed = "".join(c.lower() if rnd.random() < 0.5 else c for c in choice)
    assert OneOf(["HIMP", "NORM", "ZERO", "GUAR"])("x", "mode", mixed) == choice


@given(finite, finite, finite)
def test_all_of_is_the_intersection(a, b, value):
    first, second = Symmetric(abs(a)), InRange(-abs(b), abs(b) / 2)
    both = AllOf(first, second)
    ok = all(_accepts(v, value) for v in (first, second))
    assert _accepts(both, value) == ok


def _accepts(validator, value) -> bool:
    try:
        validator("x", "p", value)
    except SetpointError:
        return False
    return True


@given(st.integers(-32768, 32767), st.text(st.characters(exclude_characters='"\n\r'), max_size=40))
def test_error_reply_round_trip(code, text):
    assert parse_error(f'{code},"{text}"') == (code, text)


@given(st.text(st.characters(blacklist_categories=["Cs"]), max_size=20))
def test_parsers_reject_garbage_or_return_sane_values(reply):
    for parser in (parse_error, parse_int, parse_bool, parse_number):
        try:
            value = parser(reply)
        except ValueError:
            continue
        if parser is parse_number:
            assert math.isnan(value) or math.isfinite(value)


@given(
    st.lists(
        st.floats(-1e30, 1e30, allow_nan=False, allow_infinity=False), min_size=1, max_size=60
    ),
    st.integers(1, 4),
)
def test_table_round_trip_with_the_emulator_format(values, columns):
    values = values[: len(values) - len(values) % columns] or values[:columns]
    assume(len(values) % columns == 0)
    reply = ",".join(emulator_format(v) for v in values)
    table = parse_table(reply, columns, len(values) // columns)
    np.testing.assert_allclose(table.ravel(), values, rtol=1e-7, atol=1e-300)
    with pytest.raises(ValueError):
        parse_table(reply + ",1", columns, len(values) // columns)


def test_overflow_marker_is_not_a_number():
    assert math.isnan(parse_number("9.9E37"))
    assert np.isnan(parse_table("1,9.9E+37", 2)).tolist() == [[False, True]]


NODE_FORMS = [
    ("SOURce", "SOUR", "SOURCE"),
    ("CURRent", "CURR", "CURRENT"),
    ("LEVel", "LEV", "LEVEL"),
]


@given(st.lists(st.booleans(), min_size=3, max_size=3), st.booleans(), st.booleans())
def test_header_matches_short_or_long_forms_only(longs, suffix, with_level):
    regex = compile_pattern("SOURce[1]:CURRent[:LEVel]")
    nodes = [forms[2] if long else forms[1] for forms, long in zip(NODE_FORMS, longs, strict=True)]
    if suffix:
        nodes[0] += "1"
    header = ":".join(nodes if with_level else nodes[:2])
    assert regex.fullmatch(header)
    assert not regex.fullmatch(header.replace("CURR", "CUR", 1))
    assert not regex.fullmatch(header + ":IMM")


@given(st.lists(st.sampled_from(["a", "b", ",", ";", '"', "'", " "]), max_size=30))
def test_split_keeps_quoted_separators(chars):
    text = "".join(chars)
    try:
        parts = split_outside_quotes(text, ",")
    except ScpiError as exc:  # unterminated string: refused as a syntax error
        assert exc.code == -102
        return
    assert ",".join(parts) == text


@given(st.integers(10, 40), st.lists(st.integers(0, 25), max_size=12))
def test_ring_buffer_matches_a_reference_deque(capacity, blocks):
    buffer = ReadingBuffer("b", capacity)
    reference: deque[float] = deque(maxlen=capacity)
    t = 0.0
    for n in blocks:
        times = t + np.arange(1, n + 1, dtype=float)
        t += n
        buffer.append(times, times, times, np.zeros(n))
        reference.extend(times.tolist())
    assert buffer.count == len(reference)
    if reference:
        pos = buffer.positions(buffer.start_index, buffer.end_index)
        assert buffer.cols["t"][pos].tolist() == list(reference)


@given(st.integers(0, 10**7), st.integers(0, 10**7))
def test_buffer_count_reply_round_trip(count, end):
    assert _two_ints(f"{count};{end}") == (count, end)


@given(st.text(max_size=12))
def test_count_reply_garbage_is_refused(reply):
    assume(not re.fullmatch(r"\s*[+-]?\d+\s*;\s*[+-]?\d+\s*", reply))
    with pytest.raises(ValueError):
        _two_ints(reply)


@given(st.sampled_from(["RUNNING", "IDLE", "ABORTED", "EMPTY", "WAITING"]), st.integers(0, 20))
def test_trigger_state_reply(state, block):
    assert _trigger_state(f"{state};{state};{block}") == state
    with pytest.raises(ValueError):
        _trigger_state(f"{state};{block}")
