"""Segmentation: step/cycle tables from recorded or inferred steps; edge cases of the run model."""

import numpy as np
import pandas as pd
import pytest

from analysis.errors import AnalysisError
from analysis.model import make_run
from analysis.segment import cycle_table, step_table
from analysis.synthetic import SynthSpec, synthetic_run


def _electro(**kw):
    run, truth = synthetic_run(SynthSpec(**kw))
    return run.electro, truth


def test_recorded_steps_give_types_charges_and_cycles():
    e, _ = _electro(n_cycles=3, half_s=600, rest_s=30, j=5.0)
    steps = step_table(e)
    assert list(steps["type"][:4]) == ["plate", "rest", "strip", "rest"]
    active = steps[steps["type"] != "rest"]
    np.testing.assert_allclose(active["charge"].abs(), 5.0 * 1e-4 * 600, rtol=1e-9)
    np.testing.assert_allclose(active["duration"], 600, rtol=1e-9)
    np.testing.assert_allclose(active["mean_j"].abs(), 5.0)
    assert (active["mode"] == "cc").all()
    cycles = cycle_table(steps)
    assert list(cycles["cycle"]) == [1, 2, 3]
    np.testing.assert_allclose(cycles["ce"], 1.0, atol=1e-12)


def test_inferred_steps_match_recorded_on_noisy_irregular_data():
    e, _ = _electro(n_cycles=4, half_s=900, rest_s=60, jitter=0.8, seed=3)
    rng = np.random.default_rng(0)
    noisy = e.assign(current=e["current"] * (1 + 0.005 * rng.standard_normal(len(e))))
    spikes = rng.choice(len(e), 20, replace=False)
    noisy.loc[spikes, "current"] *= -1  # single-sample sign glitches
    rec = step_table(noisy)
    inf = step_table(noisy.drop(columns=["step", "cycle"]))
    assert len(inf) == len(rec)
    assert list(inf["type"]) == list(rec["type"])
    np.testing.assert_allclose(inf["start_time"], rec["start_time"])
    assert list(cycle_table(inf)["cycle"]) == [1, 2, 3, 4]


def test_inferred_level_changes_split_ccd_ramp_without_sign_change():
    t = np.arange(300.0)
    i = np.where(t < 100, 1e-4, np.where(t < 200, 2e-4, 0.0))
    e = pd.DataFrame({"time": t, "voltage": i * 100, "current": i})
    steps = step_table(e)
    assert list(steps["type"]) == ["strip", "strip", "rest"]
    np.testing.assert_allclose(steps["charge"], [1e-2, 2e-2, 0.0])


@pytest.mark.parametrize("ce", [0.9712, 0.999, 0.7434])
def test_ce_per_cycle_is_within_five_hundredths_of_a_percent(ce):
    e, _ = _electro(n_cycles=5, half_s=3600, rest_s=10, ce=ce, jitter=0.5, seed=7)
    cycles = cycle_table(step_table(e))
    assert np.abs(cycles["ce"] - ce).max() < 5e-4


def test_no_cycles_and_one_sample():
    rest = pd.DataFrame({"time": np.arange(10.0), "voltage": np.zeros(10), "current": np.zeros(10)})
    steps = step_table(rest)
    assert list(steps["type"]) == ["rest"]
    assert cycle_table(steps).empty
    one = step_table(pd.DataFrame({"time": [0.0], "voltage": [0.01], "current": [1e-4]}))
    assert len(one) == 1 and one["type"].iat[0] == "strip"
    with pytest.raises(AnalysisError, match="no samples"):
        step_table(rest.iloc[:0])


def test_make_run_sorts_time_drops_nans_and_says_so():
    df = pd.DataFrame(
        {
            "time": [2.0, 0.0, 1.0, np.nan, 3.0],
            "voltage": [0.1, 0.1, np.nan, 0.1, 0.1],
            "current": [1e-4] * 5,
        }
    )
    run = make_run({"electro": df}, metadata={"sample": {"area_m2": 1e-4}}, source="f.csv")
    assert list(run.electro["time"]) == [0.0, 2.0, 3.0]
    assert any("NaN" in w for w in run.warnings) and any("not sorted" in w for w in run.warnings)
    np.testing.assert_allclose(run.electro["current_density"], 1.0)


def test_missing_column_is_named():
    with pytest.raises(AnalysisError, match="lacks column.*current"):
        make_run({"electro": pd.DataFrame({"time": [0.0], "voltage": [0.0]})}, source="x.h5")


def test_pipeline_edge_cases_give_results_or_clear_errors(tmp_path):
    from analysis.pipeline import analyze_run
    from analysis.report import write_report

    area = {"sample": {"area_m2": 1e-4}}
    one = make_run(
        {"electro": pd.DataFrame({"time": [0.0], "voltage": [0.01], "current": [1e-4]})},
        metadata=area,
    )
    rest = make_run(
        {
            "electro": pd.DataFrame(
                {"time": np.arange(50.0), "voltage": np.zeros(50), "current": np.zeros(50)}
            )
        },
        metadata=area,
    )
    for run in (one, rest):
        res = analyze_run(run)
        assert write_report(run, res, tmp_path / str(id(run))).exists()
    assert analyze_run(rest).summary["n_cycles"] == 0
    nan = make_run(
        {"electro": pd.DataFrame({"time": [np.nan], "voltage": [0.0], "current": [0.0]})},
        metadata=area,
        source="bad.csv",
    )
    with pytest.raises(AnalysisError, match=r"bad.csv: no usable electro samples \(.*NaN"):
        analyze_run(nan)
