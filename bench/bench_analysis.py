"""Benchmark of the analysis: one 1000-cycle run (7.2 M samples) and a 100-run batch.

Prints, in one run of this script:
- full analysis (segmentation, overpotentials, CE, interrupts, void and short detectors, CCD,
  growth, pressure) of a 1000-cycle run on one core: wall time and peak memory relative to the
  data (targets: <= 3 s, <= 3x the data);
- the same metrics computed by a straightforward pandas groupby implementation, for comparison;
- batch re-analysis of 100 runs on 2 worker processes, runs/s (summary only, and with reports).

Usage: python bench/bench_analysis.py [--cycles 1000] [--runs 100] [--skip-batch]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis.batch import run_batch  # noqa: E402
from analysis.export import write_run  # noqa: E402
from analysis.pipeline import analyze_run  # noqa: E402
from analysis.synthetic import SynthSpec, synthetic_run  # noqa: E402


def pandas_groupby_metrics(e: pd.DataFrame) -> dict[str, object]:
    """The same headline metrics written the obvious pandas way (groupby + apply + rolling)."""
    g = e.groupby("step", sort=False)
    steps = g.agg(
        start=("time", "first"),
        end=("time", "last"),
        mean_i=("current", "mean"),
        v_start=("voltage", "first"),
        v_end=("voltage", "last"),
        cycle=("cycle", "first"),
    )
    dt = e["time"].diff().fillna(0.0)
    steps["charge"] = (e["current"] * dt).groupby(e["step"]).sum()

    def plateau(df: pd.DataFrame) -> float:
        lo, hi = df["time"].quantile([0.1, 0.9])
        return df.loc[(df["time"] >= lo) & (df["time"] <= hi), "voltage"].median()

    steps["eta_plateau"] = g[["time", "voltage"]].apply(plateau)
    steps["eta_peak"] = g["voltage"].apply(lambda v: v.loc[v.abs().idxmax()])
    steps["asr"] = steps["eta_plateau"].abs() / (steps["mean_i"].abs() / 1e-4)
    steps["type"] = np.where(
        steps["mean_i"] > 1e-9, "strip", np.where(steps["mean_i"] < -1e-9, "plate", "rest")
    )
    cyc = steps.groupby(["cycle", "type"])["charge"].sum().unstack()
    ce = (cyc["strip"] / -cyc["plate"]).mean()

    def void(df: pd.DataFrame) -> float | None:
        el = df["time"] - df["time"].iloc[0]
        base = df.loc[(el >= 30) & (el < 150), "voltage"].abs()
        if base.empty or df["current"].iloc[0] <= 0:
            return None
        thr = max(4 * base.diff().std(), 0.15 * base.median())
        above = (df["voltage"].abs() - base.median() > thr) & (el >= 150)
        run = above.rolling(5).sum() == 5
        return df["time"][run].iloc[0] if run.any() else None

    voids = g[["time", "voltage", "current"]].apply(void).dropna()

    def short(df: pd.DataFrame) -> float | None:
        av = df["voltage"].abs()
        local = av.rolling(10).mean().shift(1)
        low = (av < 0.3 * av.iloc[5:35].median()).rolling(5).sum() == 5
        soft = (local - av) > 0.1 * local
        hit = low | soft
        return df["time"][hit].iloc[0] if hit.any() else None

    shorts = g[["time", "voltage"]].apply(short).dropna()
    return {
        "n_steps": len(steps),
        "ce_mean": float(ce),
        "n_void": len(voids),
        "n_short_steps": len(shorts),
    }


def bench_single(cycles: int) -> None:
    spec = SynthSpec(
        n_cycles=cycles,
        half_s=3600.0,
        dt=1.0,
        void_step=2 * cycles - 199,
        short_time=3600.0 * (2 * cycles - 50.5),
    )
    run, truth = synthetic_run(spec)
    data_bytes = int(run.electro.memory_usage(index=False).sum())
    print(
        f"run: {cycles} cycles, {len(run.electro):,} samples, data {data_bytes / 1e6:.0f} MB (6 columns)"
    )
    analyze_run(run)  # warm-up (imports, caches)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        res = analyze_run(run)
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    analyze_run(run)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    s = res.summary
    print(
        f"ssbench analyze_run: best {min(times):.2f} s, median {np.median(times):.2f} s (target <= 3 s)"
    )
    print(
        f"  peak extra memory {peak / 1e6:.0f} MB = {peak / data_bytes:.2f}x data; "
        f"data + analysis = {(data_bytes + peak) / data_bytes:.2f}x data (target <= 3x)"
    )
    print(
        f"  found: {s['n_steps']} steps, {s['n_cycles']} cycles, CE {s.get('ce_mean', float('nan')):.6f}, "
        f"void onset at {s.get('void_onset_time', float('nan')):.0f} s (truth {truth['void_time']:.0f}), "
        f"hard short at {s.get('hard_short_time', float('nan')):.0f} s (truth {truth['short_time']:.0f})"
    )
    t0 = time.perf_counter()
    ref = pandas_groupby_metrics(run.electro)
    t_pd = time.perf_counter() - t0
    print(f"pandas groupby implementation: {t_pd:.2f} s ({t_pd / min(times):.1f}x slower); {ref}")


def bench_batch(n_runs: int, workers: int = 2) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        root.mkdir()
        for k in range(n_runs):
            spec = SynthSpec(
                n_cycles=50,
                half_s=600.0,
                rest_s=30.0,
                seed=k,
                void_step=(41 if k % 3 == 0 else None),
                void_after_s=300.0,
            )
            write_run(synthetic_run(spec)[0], root / f"run{k:03d}.h5")
        n = sum(1 for _ in root.glob("*.h5"))
        print(
            f"batch: {n} runs x 50 cycles ({50 * 2 * 630:,} samples each), {workers} worker processes"
        )
        for report in (False, True):
            t0 = time.perf_counter()
            table = run_batch([root], Path(tmp) / f"out{int(report)}", jobs=workers, report=report)
            dt = time.perf_counter() - t0
            ok = int((table["status"] == "ok").sum())
            what = "with HTML reports + figures" if report else "summary only"
            print(f"  {what}: {dt:.1f} s, {ok / dt:.1f} runs/s ({ok}/{n} ok)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--skip-batch", action="store_true")
    args = ap.parse_args()
    bench_single(args.cycles)
    if not args.skip_batch:
        bench_batch(args.runs)


if __name__ == "__main__":
    main()
