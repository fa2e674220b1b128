"""Critical current density from step-increased current-density ramps.

Definition (physics-reviews.md §4 "CCD", physics-ees.md §4): the current density at which the
cell fails in a stepped ramp. We report ``j_crit`` = the level where failure happened and
``j_last_pass`` = the highest level completed without failure, the cycles completed at each
level, and the failure mode: ``short`` (a hard short detected at that level) or
``polarization`` (a step cut short — voltage limit — with |V| at its maximum at the end),
or the mode the engine recorded in its ``outcome`` event (which wins, so offline agrees with
live). ``j_soft_onset`` is the level of the first soft short (intermittent filament contact),
often well below J_crit. An operator-aborted ramp without failure reports mode ``aborted`` and
no J_crit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def current_levels(j: np.ndarray, rel_tol: float = 0.05) -> np.ndarray:
    """Group |J| values into levels (relative tolerance); return a level id per value, by size."""
    a = np.abs(j)
    order = np.argsort(a)
    srt = a[order]
    new = np.concatenate(([True], np.diff(srt) > rel_tol * srt[1:]))
    ids = np.cumsum(new) - 1
    out = np.empty_like(ids)
    out[order] = ids
    return out


@dataclass(frozen=True)
class RunEnd:
    """What the run's own record says about its end (all optional for imported files).

    ``outcome``: the engine's recorded ``outcome`` event (result, failure_mode, j_crit in A/m²,
    time); ``truncated_at``: run time at which the operator aborted/stopped or the run ended
    abnormally (the step running then was cut short by that, not by the cell); ``aborted``:
    the operator aborted the run.
    """

    outcome: dict | None = None
    truncated_at: float | None = None
    aborted: bool = False


def ccd_analysis(
    steps: pd.DataFrame,
    short_time: float | None,
    *,
    soft_time: float | None = None,
    end: RunEnd | None = None,
    rel_tol: float = 0.05,
    early_frac: float = 0.9,
) -> dict[str, object]:
    """CCD result for a ramp run (needs >= 2 increasing current levels), else an empty dict.

    A recorded engine outcome wins over the detectors, so offline and live answers agree;
    ``soft_time`` (first soft short) gives ``j_soft_onset``; a ramp aborted by the operator
    before any failure has no J_crit (mode ``aborted``).
    """
    end = end or RunEnd()
    active = steps[(steps["type"] != "rest") & (steps["mode"] == "cc")].copy()
    jcol = "mean_j" if active["mean_j"].notna().all() else "mean_current"
    if len(active) < 2:
        return {}
    active["level"] = current_levels(active[jcol].to_numpy(), rel_tol)
    levels = active.groupby("level", sort=True)[jcol].apply(lambda s: float(np.median(np.abs(s))))
    if levels.size < 2:
        return {}
    first_seen = active.groupby("level")["start_time"].min().sort_values()
    if not np.all(np.diff(levels.loc[first_seen.index].to_numpy()) > 0):
        return {}
    fail_level, mode, fail_time = _recorded_failure(active, levels, jcol, end.outcome, rel_tol)
    if fail_level is None and short_time is not None:
        fail_level = _level_at(active, short_time)
        if fail_level is not None:
            mode, fail_time = "short", short_time
    if fail_level is None:
        candidates = active
        if end.truncated_at is not None:  # the step the operator/run end cut is no evidence
            candidates = active[active["end_time"] < end.truncated_at - 1e-9]
        early = _cut_short(candidates, early_frac) if len(candidates) >= 2 else candidates[:0]
        if not early.empty:
            row = early.iloc[0]
            fail_level, mode, fail_time = int(row["level"]), "polarization", float(row["end_time"])
    if fail_level is None and end.aborted:
        mode = "aborted"
    per_level = []
    for lev in first_seen.index:
        rows = active[active["level"] == lev]
        stop = fail_time if fail_time is not None else end.truncated_at
        if stop is not None:
            rows = rows[rows["end_time"] < stop]
        both = rows.groupby("cycle")["type"].nunique()
        per_level.append({"j": levels[lev], "cycles_completed": int((both == 2).sum())})
    order = list(first_seen.index)
    result: dict[str, object] = {"levels": per_level, "failure_mode": mode, "unit": jcol}
    if fail_level is None:
        done = [lv["j"] for lv in per_level if lv["cycles_completed"] > 0]
        result["j_crit"] = np.nan
        result["j_last_pass"] = float(done[-1]) if done else np.nan
    else:
        pos = order.index(fail_level)
        recorded = (end.outcome or {}).get("j_crit") if jcol == "mean_j" else None
        result["j_crit"] = (
            abs(float(recorded)) if recorded is not None else float(levels[fail_level])
        )
        result["j_last_pass"] = float(levels[order[pos - 1]]) if pos > 0 else np.nan
        result["failure_time"] = float(fail_time)
    soft_level = _level_at(active, soft_time) if soft_time is not None else None
    result["j_soft_onset"] = float(levels[soft_level]) if soft_level is not None else np.nan
    return result


def _level_at(active: pd.DataFrame, time: float) -> int | None:
    """Current level of the active step running at ``time`` (None between steps)."""
    hit = active[(active["start_time"] <= time) & (active["end_time"] >= time)]
    return int(hit["level"].iat[0]) if len(hit) else None


def _recorded_failure(
    active: pd.DataFrame, levels: pd.Series, jcol: str, outcome: dict | None, rel_tol: float
) -> tuple[int | None, str, float | None]:
    """Failure level, mode and time from the engine's recorded outcome, if it names one."""
    if not outcome:
        return None, "none", None
    time = outcome.get("time")
    j = outcome.get("j_crit")
    level = None
    if j is not None and jcol == "mean_j":
        near = np.flatnonzero(np.abs(levels.to_numpy() - abs(float(j))) <= rel_tol * abs(float(j)))
        level = int(levels.index[near[0]]) if near.size else None
    if level is None and time is not None:
        level = _level_at(active, float(time))
    if level is None:
        return None, "none", None
    t_fail = (
        float(time)
        if time is not None
        else float(active.loc[active["level"] == level, "end_time"].max())
    )
    return level, str(outcome.get("failure_mode") or "short"), t_fail


def _cut_short(active: pd.DataFrame, early_frac: float) -> pd.DataFrame:
    """Steps ended early with |V| at its maximum (a voltage limit), judged on the controlled quantity.

    Time-constant ramps hold duration fixed, capacity-limited ramps hold |charge| fixed; the
    one with the smaller spread over the run is taken as the controlled quantity.
    """
    dur = active["duration"].to_numpy()
    q = active["charge"].abs().to_numpy()
    spread = [np.std(x) / np.mean(x) if np.mean(x) > 0 else np.inf for x in (dur, q)]
    x = dur if spread[0] <= spread[1] else q
    at_max = np.abs(active["v_end"]) >= 0.95 * np.maximum(
        active["v_max"].abs(), active["v_min"].abs()
    )
    return active[(x < early_frac * np.median(x)) & at_max.to_numpy()]
