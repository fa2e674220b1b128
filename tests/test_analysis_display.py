"""Display units: conversions agree with pint, rounding keeps the meaningful digits, names carry
the unit; the summary CSV is written in display units (SI with --si)."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.display import (
    QUANTITIES,
    convert,
    display_name,
    display_table,
    display_value,
    round_meaningful,
    to_si,
)
from daq.units import ureg

finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)
#: Hand-written factors (independent of the table) for the field's everyday units.
BY_HAND = {
    "current_density": 0.1,  # 1 A/m² = 0.1 mA/cm²
    "areal_capacity": 1 / 36000.0,  # 1 mAh/cm² = 36 000 C/m²
    "charge": 1 / 3.6,  # 1 C = 1/3.6 mAh
    "area_resistance": 1e4,  # 1 Ω m² = 10⁴ Ω cm²
    "length": 1e6,
    "pressure": 1e-6,
    "ratio": 100.0,
    "time_h": 1 / 3600,
}


@given(value=finite, quantity=st.sampled_from(sorted(QUANTITIES)))
def test_conversion_matches_pint_and_inverts(value, quantity):
    d = QUANTITIES[quantity]
    expected = ureg.Quantity(value, d.si or "dimensionless").to(d.unit).magnitude
    assert float(convert(value, quantity)) == pytest.approx(expected, rel=1e-12, abs=1e-9)
    assert float(to_si(convert(value, quantity), quantity)) == pytest.approx(
        value, rel=1e-9, abs=1e-9
    )


@given(value=finite, quantity=st.sampled_from(sorted(BY_HAND)))
def test_table_factors_are_the_fields_units(value, quantity):
    assert float(convert(value, quantity)) == pytest.approx(value * BY_HAND[quantity], rel=1e-12)


@given(value=finite.filter(lambda v: abs(v) > 1e-300), quantity=st.sampled_from(sorted(QUANTITIES)))
def test_rounding_keeps_the_meaningful_digits(value, quantity):
    d = QUANTITIES[quantity]
    shown = round_meaningful(value, quantity)
    if d.decimals:
        assert abs(shown - value) <= 0.5 * 10 ** (-d.digits) + 1e-9 * abs(value)
    else:
        assert abs(shown - value) <= 0.5 * 10 ** (1 - d.digits) * abs(value) * 1.000001
        mantissa = f"{abs(shown):.14e}".split("e")[0].replace(".", "").rstrip("0")
        assert len(mantissa) <= d.digits


def test_issue_examples_read_as_the_field_writes_them():
    assert display_value("ccd_j_crit", 93998.6) == ("ccd_j_crit_mA_cm2", 9400.0, "mA cm⁻²")
    assert display_value("li_loss_m", -0.000357) == ("li_loss_um", -357.0, "µm")
    assert display_value("void_onset_capacity_C_m2", 36000.0)[1:] == (1.0, "mAh cm⁻²")
    assert display_value("ce_mean", 0.9999980)[:2] == ("ce_mean_pct", 100.0)
    assert display_value("temperature_mean_K", 298.15)[1] == pytest.approx(25.0)
    assert display_value("n_cycles", 3) == ("n_cycles", 3, "")
    assert display_name("asr_plate_median", "area_resistance") == "asr_plate_median_ohm_cm2"


def test_time_columns_switch_to_hours_when_long():
    short, _ = display_table(pd.DataFrame({"duration_s": [120.0, 300.0]}))
    long, labels = display_table(pd.DataFrame({"duration_s": [36000.0, 72000.0]}))
    assert list(short.columns) == ["duration_s"]
    assert list(long.columns) == ["duration_h"] and labels["duration_h"] == "h"
    np.testing.assert_allclose(long["duration_h"], [10.0, 20.0])


def test_nan_and_text_pass_through():
    table, _ = display_table(pd.DataFrame({"ccd_j_crit": [math.nan], "source": ["a.h5"]}))
    assert math.isnan(table["ccd_j_crit_mA_cm2"].iat[0]) and table["source"].iat[0] == "a.h5"
