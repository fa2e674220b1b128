"""Overpotential per half cycle (plateau, peak, end, nucleation), ASR, and hysteresis per cycle.

Definitions (docs/analysis.md §Overpotential; physics-reviews.md §4 "Overpotential"):
η(t) = V(t) − V_ref, with V_ref = 0 for Li-referenced cells (Li|Li, Li|Cu) or the end voltage
of the rest before the step (``ocv="rest"``). Plateau = median of the middle ``middle`` fraction
(by time) of the step; peak = the sample of largest |η|; end = median of the last 5 samples;
nucleation = extreme η in the first 10 % minus the plateau (plating steps only).
ASR = |η_plateau| / |J| (Ω m²). Hysteresis = η_plateau(strip) − η_plateau(plate).
Nernst stress uses the interfacial part only: total minus the ohmic drop through the bulk
electrolyte (:func:`ohmic_resistance`), which loads no interface.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError

#: e / Ω with Ω = 21.6 Å³ per Li atom → 7.41e9 Pa/V (physics-creep.md §2.1, §5 case 1).
NERNST_PA_PER_V = 1.602176634e-19 / 21.6e-30


def step_overpotentials(
    electro: pd.DataFrame, steps: pd.DataFrame, *, middle: float = 0.8, ocv: str = "zero"
) -> pd.DataFrame:
    """Per active step: eta_plateau, eta_peak, eta_end, eta_nucleation (V) and asr (Ω m²)."""
    if not 0 < middle <= 1:
        raise AnalysisError(f"middle fraction must be in (0, 1], got {middle}")
    if ocv not in ("zero", "rest"):
        raise AnalysisError(f"ocv must be 'zero' or 'rest', got {ocv!r}")
    t = electro["time"].to_numpy(dtype=float)
    v = electro["voltage"].to_numpy(dtype=float)
    kinds = steps["type"].to_numpy()
    starts = steps["start_row"].to_numpy()
    ends = steps["end_row"].to_numpy()
    n = len(steps)
    out = {k: np.full(n, np.nan) for k in ("eta_plateau", "eta_peak", "eta_end", "eta_nucleation")}
    lo_f, hi_f = (1 - middle) / 2, 1 - (1 - middle) / 2
    for k in np.flatnonzero(kinds != "rest"):
        a, b = starts[k], ends[k]
        ref = v[ends[k - 1] - 1] if (ocv == "rest" and k > 0 and kinds[k - 1] == "rest") else 0.0
        tt = t[a:b]
        eta = v[a:b] - ref
        t0, span = tt[0], tt[-1] - tt[0]
        i0, i1 = np.searchsorted(tt, (t0 + lo_f * span, t0 + hi_f * span))
        mid = eta[i0 : max(i1, i0 + 1)]
        out["eta_plateau"][k] = np.median(mid)
        p = int(np.argmax(np.abs(eta)))
        out["eta_peak"][k] = eta[p]
        tail = np.sort(eta[-5:])
        out["eta_end"][k] = 0.5 * (tail[(tail.size - 1) // 2] + tail[tail.size // 2])
        if kinds[k] == "plate":
            head = eta[: max(1, int(np.searchsorted(tt, t0 + 0.1 * span)))]
            out["eta_nucleation"][k] = head.min() - out["eta_plateau"][k]
    frame = pd.DataFrame(out, index=steps.index)
    j = steps["mean_j"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["asr"] = np.where(np.abs(j) > 0, np.abs(frame["eta_plateau"]) / np.abs(j), np.nan)
    return frame


def cycle_overpotentials(steps: pd.DataFrame) -> pd.DataFrame:
    """Per cycle: plateau η, J and ASR of the main plating and stripping steps, and hysteresis.

    The main step of each polarity is the one with the largest |charge| in the cycle.
    """
    cols = ["eta_plate", "eta_strip", "j_plate", "j_strip", "asr_plate", "asr_strip", "hysteresis"]
    active = steps[steps["type"] != "rest"]
    if active.empty:
        return pd.DataFrame(columns=["cycle", *cols])
    main = active.loc[active["charge"].abs().groupby([active["cycle"], active["type"]]).idxmax()]
    wide = main.pivot(index="cycle", columns="type", values=["eta_plateau", "mean_j", "asr"])
    res = pd.DataFrame(index=wide.index)
    for name, src in (("eta", "eta_plateau"), ("j", "mean_j"), ("asr", "asr")):
        for kind in ("plate", "strip"):
            res[f"{name}_{kind}"] = wide[(src, kind)] if (src, kind) in wide.columns else np.nan
    res["hysteresis"] = res["eta_strip"] - res["eta_plate"]
    return res.reset_index()


def nernst_stress(eta_v: np.ndarray | float) -> np.ndarray | float:
    """Nernst (hydrostatic) stress P = |η|·e/Ω_Li, 7.41 MPa per mV (physics-creep.md §5 case 1)."""
    return np.abs(eta_v) * NERNST_PA_PER_V


def ohmic_resistance(
    electro: pd.DataFrame, steps: pd.DataFrame, interrupts: pd.DataFrame
) -> tuple[float, str]:
    """Bulk (ohmic) resistance in Ω and where it came from, for the interfacial overpotential.

    Current interrupts give it directly (median R_ohm, the instantaneous drop when the current
    stops). Otherwise the first switch-on from rest: the instantaneous jump |ΔV/ΔI| between the
    last rest sample and the first sample at current (an upper bound when sampling is slow,
    since the fastest charge transfer is then partly included). NaN when neither exists.
    """
    if len(interrupts) and interrupts["r_ohm"].notna().any():
        return float(interrupts["r_ohm"].median()), "current_interrupt"
    kinds = steps["type"].to_numpy()
    active = np.flatnonzero(kinds != "rest")
    if active.size and active[0] > 0:
        k = int(active[0])
        v = electro["voltage"].to_numpy(dtype=float)
        i = electro["current"].to_numpy(dtype=float)
        a, before = int(steps["start_row"].iat[k]), int(steps["end_row"].iat[k - 1]) - 1
        di = i[a] - i[before]
        if di != 0:
            return float(abs((v[a] - v[before]) / di)), "initial_jump"
    return float("nan"), "none"


def interfacial_peak(steps: pd.DataFrame, r_ohm: float) -> pd.Series:
    """Per step: peak |η| minus the ohmic drop |I|·R_ohm (V), the part that loads the interface."""
    return (steps["eta_peak"].abs() - steps["mean_current"].abs() * r_ohm).clip(lower=0.0)


def by_current_density(steps: pd.DataFrame, rel_tol: float = 0.05) -> pd.DataFrame:
    """Overpotential against |J|: per current level, median plateau η of each polarity and ASR."""
    from analysis.ccd import current_levels

    active = steps[
        (steps["type"] != "rest") & steps["eta_plateau"].notna() & steps["mean_j"].notna()
    ]
    cols = ["j", "n_steps", "eta_plate", "eta_strip", "asr"]
    if active.empty:
        return pd.DataFrame(columns=cols)
    level = current_levels(active["mean_j"].to_numpy(), rel_tol)
    rows = []
    for lev in np.unique(level):
        g = active[level == lev]
        eta = {k: float(g.loc[g["type"] == k, "eta_plateau"].median()) for k in ("plate", "strip")}
        rows.append(
            (
                float(g["mean_j"].abs().median()),
                len(g),
                eta["plate"],
                eta["strip"],
                float(g["asr"].median()),
            )
        )
    return pd.DataFrame(rows, columns=cols)
