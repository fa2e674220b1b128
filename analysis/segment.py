"""Segmentation of the electrochemistry stream into a step table and a cycle table.

Steps come from the recorded ``step`` column when present, otherwise they are inferred from the
current (rest / plating / stripping and level changes), robust to noise spikes and irregular
sampling. Everything is vectorised (np.diff / np.flatnonzero / np.add.reduceat), so a 7 M-sample
run segments in a fraction of a second.

Charge uses midpoint weights: each sample owns half the interval to each neighbour (the first
and last samples mirror their single gap), so a step of n samples at spacing dt spans exactly
n·dt, step boundaries sit midway between samples and boundary errors average to zero. An
interval at a step boundary that is a gap in the sampling (longer than ``GAP_FACTOR`` × the
spacing inside the steps on either side) is credited to neither step: the step then spans its
own samples only (the trapezoid), so a 1 s pulse recorded after a 22.8 s pause is never credited
with 11.4 s of the pulse current. Such boundaries are flagged (``gap_before``).

Cycles: the recorded ``cycle`` column when it advances; a counter that never advances while the
current alternates (a looped procedure) is not trusted and cycles are derived from the steps.
A derived cycle starts with the polarity ``cycle_start`` names: ``strip`` (I > 0: charge of a
cell with a cathode), ``plate`` (I < 0: Li|Cu plating) or ``first`` (whatever the run starts
with, for symmetric Li|Li cells). Cycle 0 is a real cycle when it holds current (EC-Lab counts
from 0); leading rests alone are not a cycle.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.counters import counter_charge
from analysis.errors import AnalysisError

#: Relative spread of the current below which an active step counts as constant-current.
CC_REL_STD = 0.02
#: A boundary interval longer than this × the sampling interval beside it is a gap.
GAP_FACTOR = 3.0
#: Polarities a derived cycle may start with.
CYCLE_STARTS = ("first", "strip", "plate")


def boundary_gaps(t: np.ndarray, cut: np.ndarray, gap_factor: float = GAP_FACTOR) -> np.ndarray:
    """Per step boundary (row index in ``cut``): is the interval before it a sampling gap?

    The reference spacing is the smaller of the intervals just inside the steps on either side
    (a step of one sample offers none; with neither, the run's median interval).
    """
    if cut.size == 0 or t.size < 2:
        return np.zeros(cut.size, dtype=bool)
    dt = np.diff(t)
    k = cut - 1
    starts = np.concatenate(([0], cut[:-1]))
    ends = np.concatenate((cut[1:], [t.size]))
    left = np.where(k - 1 >= starts, dt[np.maximum(k - 1, 0)], np.inf)
    right = np.where(cut + 1 < ends, dt[np.minimum(cut, dt.size - 1)], np.inf)
    ref = np.minimum(left, right)
    ref = np.where(np.isfinite(ref), ref, float(np.median(dt)))
    return dt[k] > gap_factor * ref


def sample_weights(t: np.ndarray, cut: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """Midpoint weights with the intervals of gap boundaries credited to no sample."""
    w = np.zeros(t.size, dtype=float)
    if t.size < 2:
        return w
    credit = np.diff(t)
    credit[cut[gaps] - 1] = 0.0
    w[:-1] += 0.5 * credit
    w[1:] += 0.5 * credit
    w[0] += 0.5 * credit[0]
    w[-1] += 0.5 * credit[-1]
    return w


def rest_tolerance(i: np.ndarray, rest_tol: float | None) -> float:
    """Current below which a sample is at rest: given, or 1 % of the 95th percentile of |I|."""
    if rest_tol is not None:
        return float(rest_tol)
    if i.size == 0:
        return 0.0
    p95 = float(np.percentile(np.abs(i[:: max(1, i.size // 200_000)]), 95))
    return 0.01 * p95 if p95 > 0 else 0.0


def _merge_short_runs(cls: np.ndarray, min_samples: int) -> np.ndarray:
    """Give runs shorter than ``min_samples`` the class of the run before them (spike removal)."""
    starts = np.flatnonzero(np.diff(cls)) + 1
    starts = np.concatenate(([0], starts))
    lengths = np.diff(np.concatenate((starts, [cls.size])))
    values = cls[starts]
    keep = lengths >= min_samples
    keep[0] = True
    idx = np.where(keep, np.arange(starts.size), 0)
    np.maximum.accumulate(idx, out=idx)
    return np.repeat(values[idx], lengths)


def _median3(x: np.ndarray) -> np.ndarray:
    """Running median of three without a (n, 3) temporary."""
    if x.size < 3:
        return x.copy()
    a, b, c = x[:-2], x[1:-1], x[2:]
    mid = np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))
    return np.concatenate((x[:1], mid, x[-1:]))


def inferred_boundaries(
    i: np.ndarray, tol: float, level_tol: float = 0.05, min_samples: int = 3
) -> np.ndarray:
    """Row indices where a new step starts, inferred from the current alone."""
    if i.size < 2:
        return np.empty(0, dtype=np.int64)
    cls = (np.sign(i) * (np.abs(i) > tol)).astype(np.int8)
    cls = _merge_short_runs(cls, min_samples)
    change = np.diff(cls) != 0
    smooth = np.abs(_median3(i))
    prev, nxt = smooth[:-1], smooth[1:]
    jump = np.abs(nxt - prev) > level_tol * np.maximum(prev, nxt)
    jump &= (cls[:-1] != 0) & (cls[1:] != 0)
    return np.flatnonzero(change | jump) + 1


def step_table(
    electro: pd.DataFrame,
    *,
    rest_tol: float | None = None,
    level_tol: float = 0.05,
    min_samples: int = 3,
    use_recorded: bool = True,
    cycle_start: str = "first",
    warnings: list[str] | None = None,
) -> pd.DataFrame:
    """One row per step: type, start/end, duration, charge, mean I and J, V at start and end.

    ``start_row``/``end_row`` (end exclusive) index the time-sorted electro stream, so metrics
    can slice the raw arrays without copying. Notes on gaps and distrusted cycle counters are
    appended to ``warnings``.
    """
    if cycle_start not in CYCLE_STARTS:
        raise AnalysisError(
            f"cycle start must be one of {', '.join(CYCLE_STARTS)}, got {cycle_start!r}"
        )
    notes = warnings if warnings is not None else []
    t = electro["time"].to_numpy(dtype=float)
    n = t.size
    if n == 0:
        raise AnalysisError("electro stream has no samples; nothing to segment")
    v = electro["voltage"].to_numpy(dtype=float)
    i = electro["current"].to_numpy(dtype=float)
    tol = rest_tolerance(i, rest_tol)
    recorded = use_recorded and "step" in electro.columns
    if recorded:
        change = np.zeros(n - 1, dtype=bool)
        for col in ("step", "cycle", "segment"):  # a step index may repeat across loop cycles
            if col in electro.columns:
                s = electro[col].to_numpy()
                change |= s[1:] != s[:-1]
        cut = np.flatnonzero(change) + 1
    else:
        cut = inferred_boundaries(i, tol, level_tol, min_samples)
    starts = np.concatenate(([0], cut)).astype(np.int64)
    ends = np.concatenate((cut, [n])).astype(np.int64)
    gaps = boundary_gaps(t, cut)
    w = sample_weights(t, cut, gaps)
    iw = i * w
    charge = np.add.reduceat(iw, starts)
    i2w = np.add.reduceat(iw * i, starts)
    energy = np.add.reduceat(iw * v, starts)
    del iw
    head = 0.5 * (t[1] - t[0]) if n > 1 else 0.0
    tail = 0.5 * (t[-1] - t[-2]) if n > 1 else 0.0
    mid = 0.5 * (t[cut - 1] + t[cut])
    step_start = np.concatenate(([t[0] - head], np.where(gaps, t[cut], mid)))
    step_end = np.concatenate((np.where(gaps, t[cut - 1], mid), [t[-1] + tail]))
    duration = step_end - step_start
    counts = ends - starts
    plain_mean = np.add.reduceat(i, starts) / counts
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_i = np.where(duration > 0, charge / duration, plain_mean)
        var = np.where(duration > 0, i2w / duration - mean_i**2, 0.0)
        rel_std = np.sqrt(np.clip(var, 0, None)) / np.abs(mean_i)
    kind = np.where(np.abs(mean_i) <= tol, "rest", np.where(mean_i > 0, "strip", "plate"))
    table = pd.DataFrame(
        {
            "step": np.arange(starts.size),
            "step_index": (
                electro["step"].to_numpy()[starts] if recorded else np.arange(starts.size)
            ),
            "type": kind,
            "mode": np.where(
                kind == "rest", "rest", np.where(rel_std <= CC_REL_STD, "cc", "variable")
            ),
            "start_time": step_start,
            "end_time": step_end,
            "duration": duration,
            "charge": charge,
            "energy": energy,
            "mean_current": mean_i,
            "v_start": v[starts],
            "v_end": v[ends - 1],
            "v_min": np.minimum.reduceat(v, starts),
            "v_max": np.maximum.reduceat(v, starts),
            "n_samples": counts,
            "start_row": starts,
            "end_row": ends,
            "gap_before": np.concatenate(([False], gaps)),
        }
    )
    notes += _gap_notes(table, t, i, cut, gaps)
    if "current_density" in electro.columns:
        area_like = np.add.reduceat(electro["current_density"].to_numpy(dtype=float) * w, starts)
        with np.errstate(divide="ignore", invalid="ignore"):
            table["mean_j"] = np.where(
                duration > 0, area_like / duration, electro["current_density"].to_numpy()[starts]
            )
    else:
        table["mean_j"] = np.nan
    table["cycle"] = _cycles(table, electro, starts, cycle_start, notes)
    counted = counter_charge(electro, table)
    if counted is not None:
        table["counter_charge"] = counted
    return table


def _gap_notes(
    table: pd.DataFrame, t: np.ndarray, i: np.ndarray, cut: np.ndarray, gaps: np.ndarray
) -> list[str]:
    """Say where a boundary gap left out charge that matters (> 1 % of a step beside it)."""
    if not gaps.any():
        return []
    k = cut[gaps]
    dt = t[k] - t[k - 1]
    lost = 0.5 * dt * (np.abs(i[k]) + np.abs(i[k - 1]))
    q = np.abs(table["charge"].to_numpy())
    right = np.flatnonzero(np.concatenate(([False], gaps)))
    beside = np.maximum(np.minimum(q[right], q[right - 1]), 1e-300)
    big = lost > 0.01 * np.where(q[right] > 0, q[right], beside)
    if not big.any():
        return []
    j = int(np.argmax(np.where(big, dt, -1.0)))
    return [
        f"{int(big.sum())} step(s) start after a gap in the sampling (longest {dt[j]:.3g} s, "
        f"before t = {t[k[j]]:.6g} s): the charge in the gap is not counted (step column "
        "gap_before)"
    ]


def _recorded_cycles_hold(recorded: np.ndarray, kind: np.ndarray) -> bool:
    """False when the counter never advances although the current alternates (looped steps)."""
    active = kind != "rest"
    pol = kind[active]
    changes = int(np.count_nonzero(pol[1:] != pol[:-1]))
    return np.unique(recorded[active]).size > 1 or changes < 2


def _cycles(
    table: pd.DataFrame,
    electro: pd.DataFrame,
    starts: np.ndarray,
    cycle_start: str = "first",
    notes: list[str] | None = None,
) -> np.ndarray:
    """Cycle number per step: the recorded counter when it holds, else derived from the steps.

    A derived cycle begins at each step of the ``cycle_start`` polarity that follows the other
    one; rests belong to the cycle of the step before them, leading rests to cycle 0.
    """
    kind = table["type"].to_numpy()
    if "cycle" in electro.columns:
        recorded = electro["cycle"].to_numpy()[starts].astype(np.int64)
        if _recorded_cycles_hold(recorded, kind):
            return recorded
        if notes is not None:
            notes.append(
                f"the file's cycle counter stays at {int(recorded[0])} while the current "
                "alternates between charge and discharge (a looped procedure): cycles are "
                "derived from the steps instead"
            )
    active = np.flatnonzero(kind != "rest")
    cycle = np.zeros(kind.size, dtype=np.int64)
    if active.size == 0:
        return cycle
    first = kind[active[0]] if cycle_start == "first" else cycle_start
    pol = kind[active]
    prev = np.concatenate(([None], pol[:-1]))
    new = (pol == first) & (prev != first)
    cycle[active] = np.cumsum(new)
    idx = np.zeros(kind.size, dtype=np.int64)
    idx[active] = active
    np.maximum.accumulate(idx, out=idx)
    out = cycle[idx]
    out[: active[0]] = 0
    return out


def cycle_table(
    steps: pd.DataFrame, cut_times: tuple[float, ...] = (), *, ce_of: str = "strip/plate"
) -> pd.DataFrame:
    """One row per cycle that holds current: span, plated and stripped charge (C, positive),
    CE (strip/plate; see :mod:`analysis.ce` for the convention of cells with a cathode), complete.

    ``ce_of`` is ``strip/plate`` (Li-metal cells) or ``discharge/charge`` (cells with a cathode,
    whose charge is I > 0, our "strip"). ``complete`` is False when a half is missing, when a half's charge is below
    ``TRUNCATED_FRAC`` of the median of the same half at the same current in other cycles,
    or when one of ``cut_times`` (abort, abnormal run end, hard short, recorded outcome) falls
    inside the cycle: such cycles say nothing about CE.
    """
    held = steps.loc[steps["type"] != "rest", "cycle"].unique()
    active = steps[steps["cycle"].isin(held)]
    if active.empty:
        return pd.DataFrame(
            columns=[
                "cycle",
                "start_time",
                "end_time",
                "q_plate",
                "q_strip",
                "ce",
                "n_steps",
                "complete",
            ]  # fmt: skip
        )
    q = active["charge"].to_numpy()
    kind = active["type"].to_numpy()
    frame = pd.DataFrame(
        {
            "cycle": active["cycle"].to_numpy(),
            "start_time": active["start_time"].to_numpy(),
            "end_time": active["end_time"].to_numpy(),
            "q_plate": np.where(kind == "plate", -q, 0.0),
            "q_strip": np.where(kind == "strip", q, 0.0),
            "t_plate": np.where(kind == "plate", active["duration"].to_numpy(), 0.0),
            "t_strip": np.where(kind == "strip", active["duration"].to_numpy(), 0.0),
        }
    )
    cycles = frame.groupby("cycle", sort=True).agg(
        start_time=("start_time", "min"),
        end_time=("end_time", "max"),
        q_plate=("q_plate", "sum"),
        q_strip=("q_strip", "sum"),
        t_plate=("t_plate", "sum"),
        t_strip=("t_strip", "sum"),
        n_steps=("q_plate", "size"),
    )
    num, den = ("q_plate", "q_strip") if ce_of == "discharge/charge" else ("q_strip", "q_plate")
    with np.errstate(divide="ignore", invalid="ignore"):
        cycles["ce"] = np.where(cycles[den] > 0, cycles[num] / cycles[den], np.nan)
    complete = (cycles["q_plate"] > 0) & (cycles["q_strip"] > 0)
    for half in ("plate", "strip"):
        complete &= ~_truncated(cycles[f"q_{half}"].to_numpy(), cycles[f"t_{half}"].to_numpy())
    for t_cut in cut_times:
        complete &= ~((cycles["start_time"] <= t_cut) & (cycles["end_time"] >= t_cut))
    cycles["complete"] = complete
    return cycles.drop(columns=["t_plate", "t_strip"]).reset_index()


#: A half cycle with less than this fraction of its counterparts' charge was cut short.
TRUNCATED_FRAC = 0.5


def _truncated(q: np.ndarray, dur: np.ndarray) -> np.ndarray:
    """Per cycle: is this half's charge far below the median of halves at the same current?"""
    out = np.zeros(q.size, dtype=bool)
    ok = (q > 0) & (dur > 0)
    if np.count_nonzero(ok) < 2:
        return out
    mean_i = q[ok] / dur[ok]
    order = np.argsort(mean_i)
    srt = mean_i[order]
    level = np.empty(srt.size, dtype=np.int64)
    level[order] = np.cumsum(np.concatenate(([False], np.diff(srt) > 0.05 * srt[1:])))
    idx = np.flatnonzero(ok)
    for lev in np.unique(level):
        members = idx[level == lev]
        if members.size >= 2:
            out[members] = q[members] < TRUNCATED_FRAC * np.median(q[members])
    return out
