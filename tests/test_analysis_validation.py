"""Analysis scored against the simulator's ground truth (SimWorld) on a small grid.

The full grid and the accuracy table (docs/analysis.md) come from bench/analysis_simgrid.py,
which this test imports so both use the same harness.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sim_instruments.world")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from analysis_simgrid import (  # noqa: E402
    VOID_HELDOUT_SEEDS,
    VOID_TUNING_SEEDS,
    Case,
    cell_void_V,
    default_grid,
    score,
    score_adams,
    score_tem,
    simulate,
    summarize,
    void_case,
    void_excess_V,
    void_onsets,
)


@pytest.fixture(scope="module")
def rows():
    import pandas as pd

    return pd.DataFrame([score(c) for c in default_grid(small=True)])


def test_shorts_found_with_precision_recall_and_small_delay(rows):
    acc = summarize(rows)
    assert acc["short_cases"] >= 2
    assert acc["short_precision"] == 1.0 and acc["short_recall"] == 1.0
    assert abs(acc["hard_short_delay_median_s"]) <= 5.0
    assert abs(acc["soft_short_delay_median_s"]) <= 15.0


def test_void_onsets_found_without_false_alarms(rows):
    acc = summarize(rows)
    assert acc["void_recall"] == 1.0 and acc["void_false_alarm_rate"] == 0.0
    assert acc["void_abs_error_p90_s"] <= 600.0


def test_simulator_void_onset_is_where_the_cells_void_overpotential_rises_one_percent():
    _, truth = simulate(Case("llzo", j=2.0, pressure_Pa=1e6, seed=0, cycles=2))
    edges, t = truth["step_edges"], truth["t"]
    onsets = void_onsets(truth, "we", [1, 3])  # the WE strips in halves 1 and 3, losing contact
    assert len(onsets) == 2
    for k, onset in zip((1, 3), onsets, strict=True):
        assert edges[k] < onset < edges[k + 1]
        grid = np.arange(edges[k] + 1.0, onset + 1.0)  # the 1-s samples up to the onset
        pv = np.interp(grid, t, cell_void_V(truth, 1.0))
        healthy = np.abs(np.interp(onset, t, truth["V"])) - pv[-1]
        assert pv[-1] - pv.min() >= 0.01 * healthy > pv[-61] - pv[:-60].min()
    # in half 3 the WE's own void term is above 1 % of |V| from the first second (its voids
    # from half 1 grow on) while the CE refills the voids it opened in half 2: |V| rises
    # only once the WE's growth outruns that, minutes later
    first = edges[3] + 1.0
    own = np.interp(first, t, void_excess_V(truth, "we"))
    assert own >= 0.01 * (np.abs(np.interp(first, t, truth["V"])) - own)
    assert onsets[1] - edges[3] > 300.0


def test_ce_within_five_hundredths_of_a_percent(rows):
    assert summarize(rows)["ce_max_abs_error"] < 5e-4


def test_ccd_within_one_ramp_step(rows):
    acc = summarize(rows)
    assert acc["ccd_cases"] == 1 and acc["ccd_within_one_step"] == 1.0


def test_quiet_cell_stays_quiet():
    row = score(Case("llzo", j=2.0, pressure_Pa=10e6, seed=3, cycles=3))
    assert np.isnan(row["true_short"]) and np.isnan(row["found_hard_short"])
    assert np.isnan(row["true_void"]) == np.isnan(row["found_void"])


def test_tem_front_and_filling_efficiency_against_true_front():
    tem = score_tem(seed=1)
    assert tem["true_travel_m"] > 6e-6  # the Li column travels most of the 10 um tubule
    assert tem["front_abs_error_median_m"] < 50e-9  # one pixel is 50 nm
    assert tem["frames_off_by_over_3px"] <= 2
    assert tem["filling_efficiency"] == pytest.approx(1.0, abs=0.03)


def test_reservoir_ce_matches_the_true_dead_li_fraction():
    row = score_adams("llzo", j=5.0, n=10)
    assert row["ce_true"] == pytest.approx(0.90)
    assert row["abs_error"] < 5e-4


def test_void_grid_makes_we_voids_inside_one_hour_halves():
    """The void-focused grid (bench/bench_detect.py's second simulator set) must hold both
    traces with a WE void inside a 1-h stripping half and traces without one, and its tuning
    and held-out seeds must not overlap."""
    assert set(VOID_TUNING_SEEDS).isdisjoint(VOID_HELDOUT_SEEDS)
    with_void = without = 0
    for seed in VOID_HELDOUT_SEEDS[:12]:
        case = void_case(seed)
        assert case == void_case(seed)  # reproducible from the seed
        _, truth = simulate(case)
        n = len(truth["step_edges"]) - 1
        we = void_onsets(truth, "we", list(range(1, n, 2)))
        edges = truth["step_edges"]
        for t in we:
            k = int(np.searchsorted(edges, t, side="right") - 1)
            assert k % 2 == 1 and edges[k] < t < edges[k + 1]  # in a WE-stripping half
        with_void += bool(we)
        without += not we
    assert with_void >= 6 and without >= 1


def test_void_grid_onsets_dated_within_minutes():
    """SimWorld's WE voids open from the first second of a strip (no hinge): on tuning seeds of
    the void grid, the first void call in the true half is dated within minutes of the 1 % onset
    (the segmented refit alone: median 490 s on these seeds; the 1 % of the WE strip's own
    plateau, which holds the CE's leftover voids, rather than of the healthy |V|: 170 s)."""
    from analysis.validation.scoring import detect

    errors = []
    for seed in VOID_TUNING_SEEDS[:20]:
        run, truth = simulate(void_case(seed))
        n = len(truth["step_edges"]) - 1
        we = void_onsets(truth, "we", list(range(1, n, 2)))
        voids = [e for e in detect(run.electro, run.metadata["sample"]) if e.kind == "void_onset"]
        if not we or not voids:
            continue
        edges = truth["step_edges"]
        half = np.searchsorted(edges, [we[0], voids[0].time], side="right")
        if half[0] == half[1]:
            errors.append(abs(voids[0].time - we[0]))
    assert len(errors) >= 10
    assert np.median(errors) < 120.0


@pytest.mark.parametrize("seed", [5, 84])
def test_void_called_in_the_strip_it_opened_in_live_and_offline(seed):
    """Void-grid tuning seeds whose first call came one WE strip late. Seed 5 (LLZO): the first
    judgement ~2860 s into the WE strip that holds the 1 % onset (6301 s) returns *none*, the
    level is re-based onto the slow rise, and the rest of it never crosses a new threshold; the
    strip's end judges the whole strip again (before: first call at 12864 s). Seed 84: the onset
    (6142 s) is too small to confirm before the strip ends; the next WE strip confirms a void
    bending up from its start and traces it back (before: 12583 s). Live chunks agree."""
    from analysis.live import detectors_for
    from analysis.segment import rest_tolerance

    case = void_case(VOID_TUNING_SEEDS[seed])
    run, truth = simulate(case)
    e, sample = run.electro, run.metadata["sample"]
    edges = np.asarray(truth["step_edges"])
    we = void_onsets(truth, "we", list(range(1, edges.size - 1, 2)))
    rest = max(rest_tolerance(e["current"].to_numpy(), None), 1e-15)
    t, v, i = (e[c].to_numpy() for c in ("time", "voltage", "current"))
    offline = detectors_for(sample, rest_current=rest)[0].update(t, v, i)
    assert offline and edges[1] <= we[0] < edges[2]
    assert edges[1] <= offline[0].time < edges[2]  # in the onset's own strip
    assert abs(offline[0].time - we[0]) < 300.0
    live, k, rng = [], 0, np.random.default_rng(seed)
    det = detectors_for(sample, rest_current=rest)[0]
    while k < t.size:
        m = int(rng.integers(1, 2000))
        live += det.update(t[k : k + m], v[k : k + m], i[k : k + m])
        k += m
    assert [(x.time, x.confidence) for x in live] == [(x.time, x.confidence) for x in offline]
