"""Ohmic vs interfacial resistance from current-interrupt transitions (active step -> rest).

At the interrupt the ohmic drop is instantaneous and the interfacial (charge-transfer/contact)
part relaxes over the following seconds: R_ohm = (V_before − V_first_rest)/I and
R_total = (V_before − V_relaxed)/I, R_int = R_total − R_ohm, with V_relaxed the voltage
``relax_s`` after the interrupt (or at the end of a shorter rest). ``dt_first`` reports how long
after the interrupt the first rest sample came: the ohmic estimate is only as sharp as that.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def interrupt_resistances(
    electro: pd.DataFrame,
    steps: pd.DataFrame,
    *,
    relax_s: float = 60.0,
    area_m2: float | None = None,
) -> pd.DataFrame:
    """One row per active→rest transition: time, I, R_ohm, R_int, R_total (Ω; ASR in Ω m²)."""
    t = electro["time"].to_numpy(dtype=float)
    v = electro["voltage"].to_numpy(dtype=float)
    i = electro["current"].to_numpy(dtype=float)
    kinds = steps["type"].to_numpy()
    k = np.flatnonzero((kinds[:-1] != "rest") & (kinds[1:] == "rest"))
    cols = ["step", "cycle", "time", "current", "dt_first", "r_ohm", "r_int", "r_total"]
    if k.size == 0:
        return pd.DataFrame(columns=cols)
    ends = steps["end_row"].to_numpy()
    rows = []
    for s in k:
        a_end = ends[s]
        r_start, r_end = a_end, ends[s + 1]
        if r_end - r_start < 2 or a_end < 3:
            continue
        i_before = float(np.median(i[a_end - 3 : a_end]))
        v_before = float(np.median(v[a_end - 3 : a_end]))
        t_int = 0.5 * (t[a_end - 1] + t[r_start])
        tr, vr = t[r_start:r_end], v[r_start:r_end]
        t_rel = min(t_int + relax_s, tr[-1])
        v_rel = float(np.interp(t_rel, tr, vr))
        r_ohm = (v_before - vr[0]) / i_before
        r_tot = (v_before - v_rel) / i_before
        rows.append(
            (
                int(s),
                int(steps["cycle"].iat[s]),
                t_int,
                i_before,
                tr[0] - t_int,
                r_ohm,
                r_tot - r_ohm,
                r_tot,
            )
        )
    table = pd.DataFrame(rows, columns=cols)
    if area_m2:
        for c in ("r_ohm", "r_int", "r_total"):
            table[f"asr_{c[2:]}"] = table[c] * area_m2
    return table
