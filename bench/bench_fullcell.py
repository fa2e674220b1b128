"""Benchmark of the full-cell analysis on a 1000-cycle LFP run (issue 14 "Measure").

A synthetic 1000-cycle full cell (0.2 C between 2.5 and 3.85 V, 30 s samples, a flat-plateau
voltage with polarization and a slowly fading capacity, about 1 M samples) is analysed twice in this
run: by ``analysis.pipeline.analyze_run`` (segmentation, cathode metrics, mAh/g, runaway check)
and by a straightforward pandas groupby of the same per-cycle capacities, CE and polarization.
Prints wall time and peak memory (tracemalloc) of each, and their largest capacity difference.

Usage: python bench/bench_fullcell.py [--cycles 1000] [--sample 30]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
import pandas as pd

from analysis.model import RunData
from analysis.pipeline import analyze_run

NOMINAL_C = 2.448  # 4 mg LFP x 170 mAh/g
RATE = 0.2


def synthetic_full_cell(cycles: int, sample_s: float) -> pd.DataFrame:
    """CC charge / CC discharge at 0.2 C, capacity fading 0.01 %/cycle, 3.43 V plateau."""
    current = RATE * NOMINAL_C / 3600.0
    parts, t0 = [], 0.0
    rng = np.random.default_rng(0)
    for n in range(cycles):
        q = 0.93 * NOMINAL_C * (1 - 1e-4 * n)
        for sign in (1.0, -1.0):
            k = int(q / current / sample_s)
            t = t0 + sample_s * np.arange(1, k + 1)
            x = np.linspace(0.0, 1.0, k)
            v = (
                3.43
                + sign * 0.125
                + 0.2 * (np.exp((x - 1) / 0.03) if sign > 0 else -np.exp((x - 1) / 0.03))
            )
            v += 20e-6 * rng.standard_normal(k)
            parts.append(pd.DataFrame({"time": t, "voltage": v, "current": sign * current}))
            t0 = t[-1] + sample_s
    return pd.concat(parts, ignore_index=True)


def pandas_groupby(e: pd.DataFrame) -> pd.DataFrame:
    """The same per-cycle metrics the obvious pandas way."""
    half = np.sign(e["current"])
    step = (half != half.shift()).cumsum()
    g = e.assign(step=step, half=half).groupby("step")
    steps = g.apply(
        lambda d: pd.Series({
            "half": d["half"].iloc[0],
            "q": abs(np.trapezoid(d["current"], d["time"])),
            "e": abs(np.trapezoid(d["current"] * d["voltage"], d["time"])),
        }),
        include_groups=False,
    )  # fmt: skip
    steps["cycle"] = (steps["half"] > 0).cumsum()
    per = steps.groupby(["cycle", "half"])[["q", "e"]].sum().unstack("half")
    out = pd.DataFrame({"q_charge": per[("q", 1.0)], "q_discharge": per[("q", -1.0)]})
    out["ce"] = out["q_discharge"] / out["q_charge"]
    out["polarization"] = per[("e", 1.0)] / out["q_charge"] - per[("e", -1.0)] / out["q_discharge"]
    return out


def measure(fn):
    tracemalloc.start()
    t0 = time.perf_counter()
    result = fn()
    wall = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, wall, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--sample", type=float, default=30.0, help="sample interval, s")
    args = parser.parse_args()
    e = synthetic_full_cell(args.cycles, args.sample)
    data_mb = e.memory_usage(deep=True).sum() / 1e6
    sample = {"area_m2": 1e-4, "electrodes": "LiFePO4|PEO|Li@MIEC",
              "cathode": {"mass_loading": 0.04, "specific_capacity": 612000.0}}  # fmt: skip
    run = RunData({"electro": e}, metadata={"sample": sample}, source="bench")
    ours, t_ours, m_ours = measure(lambda: analyze_run(run))
    base, t_base, m_base = measure(lambda: pandas_groupby(e))
    cyc = ours.cycles.set_index("cycle")
    common = cyc.index.intersection(base.index)
    diff = np.max(np.abs(cyc.loc[common, "q_discharge"] / base.loc[common, "q_discharge"] - 1))
    print(f"{len(e):,} samples, {args.cycles} cycles, data {data_mb:.0f} MB")
    print(f"ssbench analyze_run : {t_ours:6.2f} s, peak {m_ours / 1e6:7.0f} MB "
          f"({ours.summary.get('capacity_discharge_last_mAh_g', float('nan')):.1f} mAh/g last)")  # fmt: skip
    print(f"pandas groupby      : {t_base:6.2f} s, peak {m_base / 1e6:7.0f} MB")
    print(f"speed-up {t_base / t_ours:.1f}x, max capacity difference {diff * 100:.3f} %")


if __name__ == "__main__":
    main()
