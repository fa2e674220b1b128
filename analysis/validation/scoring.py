"""Score the live detectors against ground truth: one row per trace, set summaries, calibration.

Used by tests/test_detect_validation.py (a modest held-out sample) and bench/bench_detect.py
(full tables for docs/analysis.md, the simulator set, confidence fitting). The detectors are
built by :func:`analysis.live.detectors_for` for a Li|SE|Li sample — the settings the engine
and ``analyze_run`` use — and void calls after a hard short are dropped by the same rule as the
pipeline (:func:`analysis.detect.voids_before_hard_short`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.detect import Event, run_detector, void_evidence, voids_before_hard_short
from analysis.live import detectors_for
from analysis.segment import rest_tolerance
from analysis.validation.traces import AREA_M2, Truth, make_trace

SYMMETRIC = {"area_m2": AREA_M2, "electrodes": "Li|LLZO|Li", "electrolyte": "LLZO"}
SOFT_MATCH_S = 30.0  #: a soft-short call within this of a true episode counts as a hit
CALIBRATION_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0)


@dataclass(frozen=True)
class Call:
    """One detector call judged against the truth, with the features its confidence uses."""

    kind: str
    time: float
    confidence: float
    right: bool
    features: tuple[float, ...] = ()


def confidence_features(event: Event) -> tuple[float, ...]:
    """The predictors of the logistic confidence (detect.VOID_CONFIDENCE / SOFT_CONFIDENCE)."""
    v = event.values  # events of another detector (the baseline's) may lack them: ()
    if event.kind == "void_onset" and "segment_start" in v:
        return tuple(float(x) for x in void_evidence(event.time, v))
    if event.kind == "soft_short" and {"drop_V", "limit_V"} <= v.keys():
        return (np.log(v["drop_V"] / v["limit_V"]),)
    return ()


def detect(
    electro: pd.DataFrame, sample: dict | None = None, factory=detectors_for, keep=None
) -> list[Event]:
    """Void and short events for a stream, as the offline pipeline computes them.

    ``factory(sample, rest_current=...)`` builds the (void, short) detector pair and
    ``keep(voids, shorts)`` drops void calls a short explains — by default this branch's;
    bench/bench_detect.py passes main 182a483's for the before/after comparison.
    """
    i = electro["current"].to_numpy(dtype=float)
    void_det, short_det = factory(
        sample or SYMMETRIC, rest_current=max(rest_tolerance(i, None), 1e-15)
    )
    shorts = run_detector(short_det, electro)
    return (keep or voids_before_hard_short)(run_detector(void_det, electro), shorts) + shorts


def _soft_right(time: float, truth: Truth) -> bool:
    after_hard = truth.hard_short is not None and time >= truth.hard_short - SOFT_MATCH_S
    return after_hard or any(
        a - SOFT_MATCH_S <= time <= b + SOFT_MATCH_S for a, b in truth.soft_shorts
    )


def score_events(events: list[Event], truth: Truth) -> tuple[dict, list[Call]]:
    """One row of the accuracy table and the judged calls for one trace."""
    voids = [e for e in events if e.kind == "void_onset"]
    softs = [e for e in events if e.kind == "soft_short"]
    true_half = truth.half_of(truth.first_void) if truth.first_void is not None else None
    row: dict = {"has_void": true_half is not None, "true_void": truth.first_void}
    first = voids[0] if voids else None
    row["found_void"] = first.time if first else np.nan
    row["found_half"] = truth.half_of(first.time) if first else -1
    row["void_confidence"] = first.confidence if first else np.nan
    row["correct_half"] = first is not None and row["found_half"] == true_half
    row["early"] = first is not None and true_half is not None and row["found_half"] < true_half
    row["missed"] = true_half is not None and (first is None or row["found_half"] > true_half)
    row["onset_error_s"] = first.time - truth.first_void if row["correct_half"] else np.nan
    row["plating_call"] = any(truth.half_current_A[truth.half_of(e.time)] < 0 for e in voids)
    row["has_short"] = bool(truth.soft_shorts)
    row["n_soft_calls"] = len(softs)
    hits = [_soft_right(e.time, truth) for e in softs]
    row["soft_right_calls"] = int(sum(hits))
    row["short_found"] = row["has_short"] and any(hits)
    calls = [
        Call(
            e.kind,
            e.time,
            e.confidence,
            truth.half_of(e.time) in truth.void_halves,
            confidence_features(e),
        )
        for e in voids
    ]
    calls += [
        Call(e.kind, e.time, e.confidence, h, confidence_features(e))
        for e, h in zip(softs, hits, strict=True)
    ]
    return row, calls


def score_trace(seed: int, **how) -> tuple[dict, list[Call]]:
    """Generate the independent trace ``seed``, run the detectors (``how``: see detect)."""
    electro, truth = make_trace(seed)
    row, calls = score_events(detect(electro, **how), truth)
    return {"seed": seed, **truth.forms, **row}, calls


def score_set(seeds: Iterable[int], **how) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows and judged calls for many traces."""
    rows, calls = [], []
    for s in seeds:
        row, c = score_trace(s, **how)
        rows.append(row)
        calls += [{"seed": s, **vars(x)} for x in c]
    cols = ["seed", "kind", "time", "confidence", "right", "features"]
    return pd.DataFrame(rows), pd.DataFrame(calls, columns=cols)


def summarize(rows: pd.DataFrame, calls: pd.DataFrame) -> dict[str, float]:
    """The issue's measures for one set of traces."""
    void, clean = rows[rows["has_void"]], rows[~rows["has_void"]]
    err = void["onset_error_s"].dropna().abs()
    soft = calls[calls["kind"] == "soft_short"]
    no_short = rows[~rows["has_short"]]
    high = calls[calls["confidence"] >= 0.8]
    return {
        "traces": len(rows),
        "void_traces": len(void),
        "void_correct_half": float(void["correct_half"].mean()) if len(void) else np.nan,
        "void_early_call": float(void["early"].mean()) if len(void) else np.nan,
        "void_missed": float(void["missed"].mean()) if len(void) else np.nan,
        "void_false_alarm": float((clean["found_half"] >= 0).mean()) if len(clean) else np.nan,
        "onset_abs_error_median_s": float(err.median()) if len(err) else np.nan,
        "onset_abs_error_p90_s": float(err.quantile(0.9)) if len(err) else np.nan,
        "plating_void_calls": int(rows["plating_call"].sum()),
        "short_traces": int(rows["has_short"].sum()),
        "soft_precision": float(soft["right"].mean()) if len(soft) else np.nan,
        "soft_recall": float(rows.loc[rows["has_short"], "short_found"].mean())
        if rows["has_short"].any()
        else np.nan,
        "no_short_traces_quiet": float((no_short["n_soft_calls"] == 0).mean())
        if len(no_short)
        else np.nan,
        "calls_conf_ge_0.8": len(high),
        "right_at_conf_ge_0.8": float(high["right"].mean()) if len(high) else np.nan,
    }


def calibration(calls: pd.DataFrame) -> pd.DataFrame:
    """Per confidence bin: number of calls, fraction right, mean confidence."""
    bins = pd.cut(calls["confidence"], CALIBRATION_BINS, include_lowest=True)
    g = calls.groupby([calls["kind"], bins], observed=False)
    out = g.agg(calls=("right", "size"), right=("right", "mean"), conf=("confidence", "mean"))
    return out.reset_index()
