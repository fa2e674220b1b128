"""Detectors scored on the independent generator (analysis.validation), held-out seeds only.

A modest held-out sample keeps this fast; bench/bench_detect.py prints the full tables for
docs/analysis.md (both sets side by side, calibration, throughput).
"""

import ast
from pathlib import Path

import numpy as np
import pytest

from analysis.detect import (
    VOID_CONFIDENCE,
    Event,
    ShortDetector,
    VoidOnsetDetector,
    voids_before_hard_short,
)
from analysis.live import detectors_for
from analysis.pipeline import analyze_run
from analysis.synthetic import SynthSpec, synthetic_run
from analysis.validation.scoring import SYMMETRIC, detect, score_set, summarize
from analysis.validation.traces import HELDOUT_SEEDS, TUNING_SEEDS, make_trace

ROOT = Path(__file__).resolve().parents[1]


def test_generator_shares_no_code_with_the_simulators():
    for name in ("traces.py", "scoring.py"):
        tree = ast.parse((ROOT / "analysis" / "validation" / name).read_text())
        mods = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        mods |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not any(m.startswith(("sim_instruments", "analysis.synthetic")) for m in mods)


def test_tuning_and_heldout_seeds_are_disjoint():
    assert set(TUNING_SEEDS).isdisjoint(HELDOUT_SEEDS)


@pytest.mark.parametrize("seed", [3, 11, 1_000_007])
def test_truth_is_consistent_and_reproducible(seed):
    e, truth = make_trace(seed)
    again, _ = make_trace(seed)
    assert e.equals(again)
    assert np.all(np.diff(e["time"].to_numpy()) > 0)
    for t_on, half, start in zip(
        truth.void_onsets, truth.void_halves, truth.void_starts, strict=True
    ):
        assert truth.half_of(t_on) == half and truth.half_current_A[half] > 0  # WE strips
        assert truth.half_starts[half] <= start < t_on  # the 1 % crossing follows the start
    for t_on in truth.ce_void_onsets:
        assert truth.half_current_A[truth.half_of(t_on)] < 0
    assert all(a < b <= e["time"].iat[-1] + 120 for a, b in truth.soft_shorts)


@pytest.fixture(scope="module")
def heldout_calls():
    return score_set(HELDOUT_SEEDS[:80])


@pytest.fixture(scope="module")
def heldout(heldout_calls):
    return summarize(*heldout_calls)


def test_heldout_voids_found_in_the_right_half_without_false_alarms(heldout):
    assert heldout["void_traces"] >= 30
    assert heldout["void_correct_half"] >= 0.9
    assert heldout["void_false_alarm"] <= 0.05
    assert heldout["plating_void_calls"] == 0


def test_heldout_onset_error(heldout):
    # the target (median 60 s, p90 300 s) on this 80-trace sample: 30 s / 184 s
    # (before the refit's rescaled 1 % and lower bounds, main bfb36e8: 123 s / 641 s)
    assert heldout["onset_abs_error_median_s"] <= 60.0
    assert heldout["onset_abs_error_p90_s"] <= 300.0


def test_heldout_soft_shorts_precise_and_quiet_without_shorts(heldout):
    assert heldout["short_traces"] >= 10
    assert heldout["soft_precision"] >= 0.95 and heldout["soft_recall"] >= 0.8
    assert heldout["no_short_traces_quiet"] >= 0.95


def test_heldout_confident_calls_are_right(heldout):
    assert heldout["calls_conf_ge_0.8"] >= 10
    assert heldout["right_at_conf_ge_0.8"] >= 0.9


def test_void_confidence_follows_the_evidence(heldout_calls):
    _, calls = heldout_calls
    void = calls[calls["kind"] == "void_onset"]
    conf = void["confidence"].to_numpy()
    assert np.ptp(conf) > 0.2  # not one flat value for every call
    for (_, row), c in zip(void.iterrows(), conf, strict=True):
        z = VOID_CONFIDENCE[0] + np.dot(VOID_CONFIDENCE[1:], row["features"])
        assert c == pytest.approx(1.0 / (1.0 + np.exp(-z)))  # the fitted logistic, as logged


def _ce_void_trace():
    """A tuning trace with a CE void in a plating half and no WE void."""
    for seed in TUNING_SEEDS:
        e, truth = make_trace(seed)
        if truth.ce_void_onsets and not truth.void_onsets and not truth.soft_shorts:
            return e, truth
    raise AssertionError("no such trace")


def test_plating_halves_raise_void_alarms_only_when_asked():
    e, truth = _ce_void_trace()
    assert [x for x in detect(e) if x.kind == "void_onset"] == []
    asked = [x for x in detect(e, {**SYMMETRIC, "void_watch": "ce"}) if x.kind == "void_onset"]
    assert asked and truth.half_of(asked[0].time) == truth.half_of(truth.ce_void_onsets[0])


def test_a_soft_short_call_does_not_hide_a_later_void():
    soft = Event("soft_short", 100.0, "drop")
    hard = Event("hard_short", 5000.0, "collapse")
    voids = [Event("void_onset", 2000.0, "rise"), Event("void_onset", 4990.0, "rise")]
    assert voids_before_hard_short(voids, [soft]) == voids
    assert voids_before_hard_short(voids, [soft, hard]) == voids[:1]
    run, truth = synthetic_run(SynthSpec(n_cycles=4, void_step=5, soft_times=[3600 * 2 + 900]))
    res = analyze_run(run)
    assert res.summary["n_soft_shorts"] >= 1
    assert abs(res.summary["void_onset_time"] - truth["void_time"]) < 300


@pytest.mark.parametrize("seed", [1_000_001, 1_000_002])
def test_live_blocks_equal_offline_on_independent_traces(seed):
    e, _ = make_trace(seed)
    t, v, i = (e[c].to_numpy() for c in ("time", "voltage", "current"))
    rest = 0.01 * float(np.percentile(np.abs(i), 95))
    offline = detectors_for(SYMMETRIC, rest_current=rest)
    whole = [ev for d in offline for ev in d.update(t, v, i)]
    live = detectors_for(SYMMETRIC, rest_current=rest)
    assert isinstance(live[0], VoidOnsetDetector) and isinstance(live[1], ShortDetector)
    rng = np.random.default_rng(seed)
    blocks, k = [], 0
    while k < t.size:
        m = int(rng.integers(1, 900))
        blocks += [ev for d in live for ev in d.update(t[k : k + m], v[k : k + m], i[k : k + m])]
        k += m
    key = sorted((x.kind, x.time, x.confidence) for x in whole)
    assert sorted((x.kind, x.time, x.confidence) for x in blocks) == key
