"""Metrics of cells with a cathode: capacity, CE, energy efficiency, polarization, retention.

Battery convention (charge = I > 0, our "strip" steps; discharge = I < 0):
CE_n = Q_discharge,n / Q_charge,n; energy efficiency = E_discharge,n / E_charge,n;
polarization = mean charge voltage − mean discharge voltage (each the charge-weighted mean,
E/Q); retention = discharge capacity of the last complete cycle / the first complete cycle.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def cathode_cycles(steps: pd.DataFrame, cycles: pd.DataFrame) -> pd.DataFrame:
    """The cycle table in battery terms: q_charge, q_discharge (C), ce, e_charge, e_discharge
    (J), energy_efficiency, v_charge_mean, v_discharge_mean, polarization (V)."""
    if cycles.empty:
        return cycles
    active = steps[steps["type"] != "rest"]
    e = active.assign(
        e_charge=np.where(active["type"] == "strip", active["energy"], 0.0),
        e_discharge=np.where(active["type"] == "plate", -active["energy"], 0.0),
    )
    energy = e.groupby("cycle")[["e_charge", "e_discharge"]].sum()
    out = cycles.rename(columns={"q_strip": "q_charge", "q_plate": "q_discharge"})
    out = out.merge(energy, left_on="cycle", right_index=True, how="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["energy_efficiency"] = np.where(
            out["e_charge"] > 0, out["e_discharge"] / out["e_charge"], np.nan
        )
        out["v_charge_mean"] = np.where(
            out["q_charge"] > 0, out["e_charge"] / out["q_charge"], np.nan
        )
        out["v_discharge_mean"] = np.where(
            out["q_discharge"] > 0, out["e_discharge"] / out["q_discharge"], np.nan
        )
    out["polarization"] = out["v_charge_mean"] - out["v_discharge_mean"]
    return out


def cathode_summary(cycles: pd.DataFrame, area_m2: float | None) -> dict[str, float]:
    """Capacities (first, last complete cycle), retention, CE and energy efficiency averages."""
    ok = cycles[cycles["complete"].astype(bool)] if len(cycles) else cycles
    if ok.empty:
        return {}
    first, last = ok.iloc[0], ok.iloc[-1]
    out = {
        "capacity_discharge_first_C": float(first["q_discharge"]),
        "capacity_discharge_last_C": float(last["q_discharge"]),
        "capacity_charge_first_C": float(first["q_charge"]),
        "capacity_retention": float(last["q_discharge"] / first["q_discharge"])
        if first["q_discharge"] > 0
        else np.nan,
        "ce_mean": float(ok["ce"].mean()),
        "ce_median": float(ok["ce"].median()),
        "ce_min": float(ok["ce"].min()),
        "ce_first": float(first["ce"]),
        "energy_efficiency_mean": float(ok["energy_efficiency"].mean()),
        "polarization_median_V": float(ok["polarization"].median()),
    }
    if area_m2:
        out["areal_capacity_discharge_first_C_m2"] = out["capacity_discharge_first_C"] / area_m2
    return out
