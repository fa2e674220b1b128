"""Full-cell cycling metrics on top of the cathode cycle table (``analysis.capacity``).

Per cycle capacities in mAh, mAh/g of active material (when the mass is known: the protocol's
``sample.cathode`` or the user's ``--mass``) and mAh/cm², retention; dQ/dV of one half cycle;
the rate-capability table; stack-pressure change per cycle and per mAh; and the full-cell
short signature — a charge that runs past its nominal capacity without reaching its cut-off
(creep §3 item 1). Inputs are the step and cycle tables of ``analysis.segment`` (SI).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MAH = 3.6  # C
#: A charge passing more than this × the nominal capacity is a runaway charge (short).
RUNAWAY_FACTOR = 1.5


def capacity_columns(
    cycles: pd.DataFrame, mass_kg: float | None, area_m2: float | None
) -> pd.DataFrame:
    """Add mAh, mAh/g (with a mass), mAh/cm² (with an area) and retention to a cathode table."""
    out = cycles.copy()
    for half in ("charge", "discharge"):
        q = out[f"q_{half}"]
        out[f"q_{half}_mAh"] = q / MAH
        if mass_kg:
            out[f"q_{half}_mAh_g"] = q / MAH / (mass_kg * 1e3)
        if area_m2:
            out[f"q_{half}_mAh_cm2"] = q / MAH / (area_m2 * 1e4)
    complete = out[out["complete"].astype(bool)] if "complete" in out else out
    first = complete["q_discharge"].iloc[0] if len(complete) else np.nan
    out["retention"] = out["q_discharge"] / first if first and first > 0 else np.nan
    return out


def half_cycle(electro: pd.DataFrame, steps: pd.DataFrame, cycle: int, half: str) -> pd.DataFrame:
    """Samples (time, voltage, current) of the charge ('strip') or discharge ('plate') of a cycle."""
    kind = {"charge": "strip", "discharge": "plate"}[half]
    rows = steps[(steps["cycle"] == cycle) & (steps["type"] == kind)]
    parts = [electro.iloc[int(r.start_row) : int(r.end_row)] for r in rows.itertuples()]
    return pd.concat(parts) if parts else electro.iloc[:0]


def dqdv(samples: pd.DataFrame, dv: float = 0.005) -> pd.DataFrame:
    """dQ/dV (C/V) of one half cycle on a voltage grid of ``dv``: charge per bin over dv."""
    t = samples["time"].to_numpy(dtype=float)
    v = samples["voltage"].to_numpy(dtype=float)
    i = samples["current"].to_numpy(dtype=float)
    if len(t) < 2:
        return pd.DataFrame({"voltage": [], "dqdv": []})
    dq = np.abs(0.5 * (i[1:] + i[:-1]) * np.diff(t))
    vm = 0.5 * (v[1:] + v[:-1])
    lo, hi = np.floor(vm.min() / dv) * dv, np.ceil(vm.max() / dv) * dv
    edges = np.arange(lo, hi + dv, dv)
    sums, _ = np.histogram(vm, bins=edges, weights=dq)
    return pd.DataFrame({"voltage": 0.5 * (edges[1:] + edges[:-1]), "dqdv": sums / dv})


def c_rates(steps: pd.DataFrame, nominal_C: float) -> pd.Series:
    """C-rate of each cycle's discharge (|mean I| × 1 h / nominal capacity), two digits."""
    discharge = steps[steps["type"] == "plate"]
    rate = discharge.groupby("cycle")["mean_current"].mean().abs() * 3600.0 / nominal_C
    return rate.apply(lambda r: float(f"{r:.2g}"))


def rate_table(cycles: pd.DataFrame, steps: pd.DataFrame, nominal_C: float) -> pd.DataFrame:
    """Rate capability: per C-rate the cycles, mean discharge capacity (C, mAh, and mAh/g and
    mAh/cm² when the cycle table has them) and its share of the slowest rate's."""
    rates = c_rates(steps, nominal_C).rename("c_rate")
    ok = cycles[cycles["complete"].astype(bool)].drop(columns="c_rate", errors="ignore")
    ok = ok.merge(rates, left_on="cycle", right_index=True)
    per_unit = {f"q_discharge{u}": (f"q_discharge{u}", "mean")
                for u in ("_mAh_g", "_mAh_cm2") if f"q_discharge{u}" in ok}  # fmt: skip
    table = ok.groupby("c_rate").agg(
        cycles=("cycle", "size"), q_discharge=("q_discharge", "mean"), ce=("ce", "mean"),
        **per_unit,
    )  # fmt: skip
    table["q_discharge_mAh"] = table["q_discharge"] / MAH
    table["relative_to_slowest"] = table["q_discharge"] / table["q_discharge"].iloc[0]
    return table.reset_index()


def pressure_per_cycle(
    cycles: pd.DataFrame, steps: pd.DataFrame, pressure: pd.DataFrame
) -> pd.DataFrame:
    """Per cycle: pressure at start and end, swing (max - min), swing per mAh charged (Pa)."""
    t = pressure["time"].to_numpy(dtype=float)
    p = pressure["pressure"].to_numpy(dtype=float)
    spans = steps.groupby("cycle").agg(start=("start_time", "min"), end=("end_time", "max"))
    rows = []
    for cycle, span in spans.iterrows():
        lo, hi = np.searchsorted(t, [span["start"], span["end"]])
        window = p[lo : max(hi, lo + 1)]
        if not len(window):
            continue
        rows.append((cycle, window[0], window[-1], np.ptp(window)))
    out = pd.DataFrame(rows, columns=["cycle", "p_start", "p_end", "p_swing"])
    out = out.merge(cycles[["cycle", "q_charge"]], on="cycle", how="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["p_swing_per_mAh"] = out["p_swing"] / (out["q_charge"] / MAH)
    return out.drop(columns=["q_charge"])


#: pressure_per_cycle columns -> their names in the cycle table (SI suffixes for display)
PRESSURE_COLUMNS = {"p_start": "pressure_start_Pa", "p_end": "pressure_end_Pa",
                    "p_swing": "pressure_swing_Pa", "p_swing_per_mAh": "pressure_swing_Pa_per_mAh"}  # fmt: skip


def cycle_extras(
    cycles: pd.DataFrame,
    steps: pd.DataFrame,
    nominal_C: float | None,
    pressure: pd.DataFrame | None,
) -> pd.DataFrame:
    """The cycle table with each cycle's discharge C-rate (with a nominal capacity) and its
    stack-pressure start, end, swing and swing per mAh charged (with a pressure stream)."""
    out = cycles
    if nominal_C and len(out):
        out = out.merge(c_rates(steps, nominal_C).rename("c_rate"), left_on="cycle",
                        right_index=True, how="left")  # fmt: skip
    if pressure is not None and len(pressure) and len(out):
        per = pressure_per_cycle(out, steps, pressure).rename(columns=PRESSURE_COLUMNS)
        out = out.merge(per, on="cycle", how="left")
    return out


def runaway_charges(
    steps: pd.DataFrame, nominal_C: float, cutoff_V: float | None = None
) -> pd.DataFrame:
    """Charge steps that passed more than RUNAWAY_FACTOR × nominal without reaching ``cutoff_V``."""
    charge = steps[steps["type"] == "strip"]
    ratio = charge["charge"].abs() / nominal_C
    runaway = ratio > RUNAWAY_FACTOR
    if cutoff_V is not None:
        runaway &= charge["v_max"] < cutoff_V
    out = charge[runaway][["cycle", "start_time", "end_time", "charge", "v_max"]].copy()
    out["ratio_to_nominal"] = ratio[runaway]
    return out.reset_index(drop=True)


def sample_basis(
    sample: dict, area_m2: float | None, mass_kg: float | None = None
) -> tuple[float | None, float | None]:
    """(active mass kg, nominal capacity C) from the run's sample metadata (SI, as recorded
    from the protocol's ``sample.cathode`` / ``working`` / ``nominal_capacity``); ``mass_kg``
    (the user's ``--mass``) overrides the recorded mass."""
    electrode = next(
        (e for e in (sample.get("cathode"), sample.get("working")) if isinstance(e, dict)), {}
    )
    mass = mass_kg or electrode.get("mass")
    if mass is None and electrode.get("mass_loading") and area_m2:
        mass = electrode["mass_loading"] * area_m2
    nominal = sample.get("nominal_capacity")
    if nominal is None and mass and electrode.get("specific_capacity"):
        nominal = mass * electrode["specific_capacity"]
    return mass, nominal


def summary(
    cycles: pd.DataFrame,
    steps: pd.DataFrame,
    nominal_C: float | None,
    pressure: pd.DataFrame | None,
) -> tuple[dict[str, float], list[str]]:
    """Summary entries (capacity per gram, pressure swing, runaway charges) and warnings."""
    out: dict[str, float] = {}
    notes: list[str] = []
    ok = cycles[cycles["complete"].astype(bool)] if len(cycles) else cycles
    if len(ok) and "q_discharge_mAh_g" in ok:
        out["capacity_discharge_first_mAh_g"] = float(ok["q_discharge_mAh_g"].iloc[0])
        out["capacity_discharge_last_mAh_g"] = float(ok["q_discharge_mAh_g"].iloc[-1])
    if nominal_C:
        runaway = runaway_charges(steps, nominal_C)
        out["runaway_charges"] = len(runaway)
        notes += [
            f"cycle {int(r.cycle)}: charge ran to {r.ratio_to_nominal:.1f}x the nominal "
            f"capacity (max {r.v_max:.3f} V): runaway charge, Li through the electrolyte?"
            for r in runaway.itertuples()
        ]
    if pressure is not None and len(pressure) and len(cycles):
        swing = pressure_per_cycle(cycles, steps, pressure)
        if len(swing):
            out["pressure_swing_median_Pa"] = float(swing["p_swing"].median())
    return out, notes
