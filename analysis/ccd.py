"""Critical current density from step-increased current-density ramps.

Definition (physics-reviews.md §4 "CCD", physics-ees.md §4): the current density at which the
cell fails in a stepped ramp. We report ``j_crit`` = the level where failure happened and
``j_last_pass`` = the highest level completed without failure, the cycles completed at each
level, and the failure mode: ``short`` (a hard short detected at that level) or
``polarization`` (a step cut short — voltage limit — with |V| at its maximum at the end).
"""

from __future__ import annotations

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


def ccd_analysis(
    steps: pd.DataFrame, short_time: float | None, *, rel_tol: float = 0.05, early_frac: float = 0.9
) -> dict[str, object]:
    """CCD result for a ramp run (needs >= 2 increasing current levels), else an empty dict."""
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
    fail_level, mode, fail_time = None, "none", None
    if short_time is not None:
        hit = active[(active["start_time"] <= short_time) & (active["end_time"] >= short_time)]
        if not hit.empty:
            fail_level, mode, fail_time = int(hit["level"].iat[0]), "short", short_time
    if fail_level is None:
        early = _cut_short(active, early_frac)
        if not early.empty:
            row = early.iloc[0]
            fail_level, mode, fail_time = int(row["level"]), "polarization", float(row["end_time"])
    per_level = []
    for lev in first_seen.index:
        rows = active[active["level"] == lev]
        if fail_time is not None:
            rows = rows[rows["end_time"] < fail_time]
        both = rows.groupby("cycle")["type"].nunique()
        per_level.append({"j": levels[lev], "cycles_completed": int((both == 2).sum())})
    order = list(first_seen.index)
    result: dict[str, object] = {"levels": per_level, "failure_mode": mode, "unit": jcol}
    if fail_level is None:
        result["j_crit"] = np.nan
        result["j_last_pass"] = float(levels[order[-1]])
    else:
        pos = order.index(fail_level)
        result["j_crit"] = float(levels[fail_level])
        result["j_last_pass"] = float(levels[order[pos - 1]]) if pos > 0 else np.nan
        result["failure_time"] = float(fail_time)
    return result


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
