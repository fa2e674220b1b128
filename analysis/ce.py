"""Coulombic efficiency: per cycle, average, cumulative, Li inventory loss, reservoir method.

Definitions (physics-creep.md §4 "Coulombic efficiency", physics-reviews.md §4 and §7):
CE_n = Q_strip,n / Q_plate,n (Li‖Cu half-cell convention: plating on WE is I < 0).
Cumulative = ∏ CE_n; Li inventory loss = Σ (Q_plate − Q_strip), also as Li thickness with
4.85 µm per mAh/cm² (physics-reviews.md §2.4). Reservoir (Adams) average:
CE_avg = (Σ Q_strip,cycling + Q_S) / (Σ Q_plate,cycling + Q_T), with Q_T the reservoir plated
after the formation cycle and Q_S the final strip to cutoff.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError

#: 1 mAh/cm² = 3.6 C / 1e-4 m² = 36 000 C/m²; Li thickness 4.85 µm per mAh/cm².
LI_M_PER_C_M2 = 4.85e-6 / 36_000.0


def ce_summary(cycles: pd.DataFrame, area_m2: float | None) -> dict[str, float]:
    """Average, median and cumulative CE and the Li inventory lost over the complete cycles.

    Cycles flagged incomplete by :func:`analysis.segment.cycle_table` (a truncated or missing
    half, or an abort/short inside) are left out: their CE is an artefact of the cut.
    """
    ok = cycles[(cycles["q_plate"] > 0) & (cycles["q_strip"] > 0)]
    if "complete" in ok:
        ok = ok[ok["complete"].astype(bool)]
    if ok.empty:
        return {}
    ce = ok["ce"].to_numpy(dtype=float)
    loss = float((ok["q_plate"] - ok["q_strip"]).sum())
    out = {
        "ce_mean": float(ce.mean()),
        "ce_median": float(np.median(ce)),
        "ce_cumulative": float(np.prod(ce)),
        "ce_min": float(ce.min()),
        "li_loss_C": loss,
    }
    if area_m2:
        out["li_loss_C_m2"] = loss / area_m2
        out["li_loss_m"] = loss / area_m2 * LI_M_PER_C_M2
    return out


def reservoir_ce(
    steps: pd.DataFrame,
    *,
    reservoir_step: int | None = None,
    final_step: int | None = None,
    ratio: float = 1.5,
) -> dict[str, float] | None:
    """Average CE by the reservoir (Adams) method, or None when the run has no such pattern.

    Without explicit step numbers (``steps['step']``) the reservoir is the first plating step
    after the formation cycle whose charge exceeds ``ratio`` × the median cycling plating charge,
    and the final strip the last stripping step exceeding ``ratio`` × the median cycling strip.
    """
    active = steps[steps["type"] != "rest"].reset_index(drop=True)
    plate = active.index[active["type"] == "plate"].to_numpy()
    strip = active.index[active["type"] == "strip"].to_numpy()
    if plate.size < 3 or strip.size < 3:
        return None
    q = active["charge"].abs().to_numpy()
    if reservoir_step is None:
        later = plate[plate > plate[0]]
        med = np.median(q[later])
        big = later[q[later] > ratio * med]
        if big.size == 0:
            return None
        res = int(big[0])
    else:
        res = _row_of(active, reservoir_step, "plate")
    if final_step is None:
        cyc_strip = strip[strip > res]
        if cyc_strip.size < 2:
            return None
        med = np.median(q[cyc_strip])
        big = cyc_strip[q[cyc_strip] > ratio * med]
        if big.size == 0:
            return None
        fin = int(big[-1])
    else:
        fin = _row_of(active, final_step, "strip")
    if fin <= res:
        raise AnalysisError("reservoir CE: the final strip must come after the reservoir plating")
    between = active.iloc[res + 1 : fin]
    q_pl = float(between.loc[between["type"] == "plate", "charge"].abs().sum())
    q_st = float(between.loc[between["type"] == "strip", "charge"].abs().sum())
    n = int((between["type"] == "plate").sum())
    q_t, q_s = q[res], q[fin]
    return {
        "ce_reservoir": (q_st + q_s) / (q_pl + q_t),
        "reservoir_C": float(q_t),
        "final_strip_C": float(q_s),
        "n_cycles": n,
    }


def _row_of(active: pd.DataFrame, step: int, kind: str) -> int:
    """Row in ``active`` of step number ``step``, which must be of ``kind``."""
    rows = active.index[active["step"] == step]
    if rows.size == 0 or active.at[rows[0], "type"] != kind:
        raise AnalysisError(f"reservoir CE: step {step} is not a {kind} step")
    return int(rows[0])
