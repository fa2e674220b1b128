"""Detector accuracy on two sets side by side, confidence calibration, and throughput.

Sets: the independent generator (analysis.validation, held-out seeds) and our simulator
(SimWorld symmetric cells from bench/analysis_simgrid.py's grid, and its void-focused grid
``void_case`` on held-out seeds ``VOID_HELDOUT_SEEDS``). Prints, per set, void
detection in the correct half cycle, early calls, misses, false alarms, onset error median/p90,
soft-short precision/recall and quiet short-free traces, and a confidence calibration table;
then the detector throughput on a 1000-cycle run against the tree at main a48eb44 (extracted
from git in the same run). ``--fit`` refits the confidence constants on the *tuning* seeds;
``--baseline`` also scores main 182a483's detector (before issue 17).

    python bench/bench_detect.py [--heldout 300] [--sim 216] [--simvoid 200] [--fit 400]
        [--no-speed]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from analysis_simgrid import void_onsets  # noqa: E402

from analysis.validation.scoring import (  # noqa: E402
    calibration,
    detect,
    score_events,
    score_set,
    summarize,
)
from analysis.validation.traces import HELDOUT_SEEDS, TUNING_SEEDS, Truth  # noqa: E402

BASELINE_COMMIT = "182a483"  #: accuracy before issue 17 (--baseline)
SPEED_BASELINE = "a48eb44"  #: throughput before session 20 (interruption-aware onset)
RIDGE = 1e-2  #: L2 penalty of the confidence fit on the slopes (few wrong calls to learn from)


def sim_truth(truth: dict, j: float, area: float, watch: str = "we") -> Truth:
    """SimWorld's truth as validation Truth: halves plate WE first; the target is the first void
    on the WE (``watch`` "we", the Li|SE|Li default) or on either electrode ("both")."""
    edges = np.asarray(truth["step_edges"], dtype=float)
    n = edges.size - 1
    signs = np.where(np.arange(n) % 2 == 0, -1.0, 1.0)
    out = Truth(edges[:-1], signs * j * area)
    hard = truth["hard_short_time"]
    we = void_onsets(truth, "we", list(range(1, n, 2)))
    ce = void_onsets(truth, "ce", list(range(0, n, 2)))
    onsets = sorted(we + ce) if watch == "both" else we
    out.void_onsets = [t for t in onsets if hard is None or t < hard]
    out.void_halves = [out.half_of(t) for t in out.void_onsets]
    out.ce_void_onsets = ce
    if truth["short_time"] is not None:
        out.soft_shorts = [(truth["short_time"], hard if hard is not None else edges[-1])]
    out.hard_short = hard
    return out


def sim_set(n: int, watch: str = "we") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score the first ``n`` symmetric SimWorld cases of the analysis grid, the void watch on
    the WE only (default) or on both electrodes (``void_watch: both`` in the sample)."""
    from analysis_simgrid import default_grid, simulate

    cases = [c for c in default_grid() if c.cell == "symmetric" and not isinstance(c.j, tuple)]
    rows, calls = [], []
    for k, case in enumerate(cases[:n]):
        run, truth = simulate(case)
        sample = {**run.metadata["sample"], "void_watch": watch}
        events = detect(run.electro, sample)
        row, judged = score_events(events, sim_truth(truth, case.j, 1e-4, watch))
        rows.append({"seed": k, "preset": case.preset, **row})
        calls += [{"seed": k, **vars(x)} for x in judged]
    cols = ["seed", "kind", "time", "confidence", "right", "features"]
    return pd.DataFrame(rows), pd.DataFrame(calls, columns=cols)


def sim_void_set(seeds) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score the void-focused SimWorld grid (analysis_simgrid.void_case) on ``seeds``, the
    void watch on the WE (the Li|SE|Li default)."""
    from analysis_simgrid import simulate, void_case

    rows, calls = [], []
    for seed in seeds:
        case = void_case(seed)
        run, truth = simulate(case)
        events = detect(run.electro, run.metadata["sample"])
        row, judged = score_events(events, sim_truth(truth, case.j, 1e-4))
        rows.append({"seed": seed, "preset": case.preset, "j": case.j, **row})
        calls += [{"seed": seed, **vars(x)} for x in judged]
    cols = ["seed", "kind", "time", "confidence", "right", "features"]
    return pd.DataFrame(rows), pd.DataFrame(calls, columns=cols)


def _old_detect_module():
    """The detector module as it was at BASELINE_COMMIT, imported from git."""
    root = Path(__file__).resolve().parents[1]
    src = subprocess.run(
        ["git", "show", f"{BASELINE_COMMIT}:analysis/detect.py"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "detect_baseline.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("detect_baseline", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def baseline_how() -> dict:
    """main 182a483's detectors with its own settings: both halves of Li|SE|Li watched, and
    any short (soft too) suppressing void calls from a minute before it on."""
    old = _old_detect_module()

    def factory(sample, rest_current):
        return old.VoidOnsetDetector(rest_current=rest_current, strip_sign=0), old.ShortDetector(
            rest_current=rest_current
        )

    def keep(voids, shorts):
        first = min((s.time for s in shorts), default=np.inf) - 60.0
        return [v for v in voids if v.time < first]

    return {"factory": factory, "keep": keep}


#: Times the void + short detectors in one source tree (run as a child with that tree first
#: on sys.path, so the baseline's own analysis package is the one imported).
_TIMING = """
import sys, time
import numpy as np
from analysis.detect import ShortDetector, VoidOnsetDetector
from analysis.synthetic import SynthSpec, synthetic_run
cycles, repeats = int(sys.argv[1]), int(sys.argv[2])
run, _ = synthetic_run(SynthSpec(n_cycles=cycles, noise_v=5e-4, seed=7))
t, v, i = (run.electro[c].to_numpy() for c in ("time", "voltage", "current"))
best = np.inf
for _ in range(repeats):
    t0 = time.perf_counter()
    VoidOnsetDetector(rest_current=1e-6).update(t, v, i)
    ShortDetector(rest_current=1e-6).update(t, v, i)
    best = min(best, time.perf_counter() - t0)
print(t.size, best)
"""


def _timed(root: Path, cycles: int, repeats: int) -> tuple[int, float]:
    """(samples, best seconds) of the detectors of the tree at ``root``."""
    out = subprocess.run(
        [sys.executable, "-c", _TIMING, str(cycles), str(repeats)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]), float(out[1])


def throughput(cycles: int = 1000, repeats: int = 3) -> None:
    """Void + short detectors over a 1000-cycle run (1-h halves at 1 s): the tree at
    SPEED_BASELINE (extracted from git in the same run) against this one."""
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "archive", SPEED_BASELINE, "analysis", "daq"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        trees = {f"main {SPEED_BASELINE}": Path(tmp), "this branch": root}
        n = 0
        print(f"\nthroughput: {cycles} cycles, whole-run blocks, best of {repeats}")
        for name, tree in trees.items():
            n, best = _timed(tree, cycles, repeats)
            print(f"| {name} | {best:.2f} s | {n / best / 1e6:.2f} M samples/s |")
        print(f"({n / 1e6:.1f} M samples)")


def report(name: str, rows: pd.DataFrame, calls: pd.DataFrame) -> dict:
    """Print one set's measures and calibration table."""
    acc = summarize(rows, calls)
    print(f"\n## {name}")
    for k, val in acc.items():
        print(f"| {k} | {val:.3g} |" if isinstance(val, float) else f"| {k} | {val} |")
    cal = calibration(calls)
    print(cal[cal["calls"] > 0].to_string(index=False))
    return acc


def fit_confidence(n: int) -> None:
    """Fit the logistic confidence constants on tuning seeds (never the held-out ones)."""
    from scipy.optimize import minimize

    _, calls = score_set(TUNING_SEEDS[:n])
    for kind in ("void_onset", "soft_short"):
        c = calls[calls["kind"] == kind]
        if len(c) < 10:
            print(f"{kind}: too few calls ({len(c)}) to fit")
            continue
        x = np.column_stack([np.ones(len(c)), np.array(c["features"].tolist())])
        y = c["right"].to_numpy(dtype=float)

        def nll(w, x=x, y=y):
            z = x @ w
            return float(np.sum(np.logaddexp(0.0, z) - y * z) + RIDGE * w[1:] @ w[1:])

        w = minimize(nll, np.zeros(x.shape[1]), method="BFGS").x
        print(
            f"{kind}: {len(c)} calls, {y.mean():.3f} right; constants {tuple(round(float(x), 3) for x in w)}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heldout", type=int, default=300, help="held-out independent traces")
    ap.add_argument("--sim", type=int, default=216, help="symmetric SimWorld runs")
    ap.add_argument(
        "--simvoid", type=int, default=200, help="void-grid SimWorld runs (held-out seeds)"
    )
    ap.add_argument("--fit", type=int, default=0, help="refit confidence on N tuning seeds")
    ap.add_argument("--no-speed", action="store_true", help="skip the throughput comparison")
    ap.add_argument("--baseline", action="store_true", help="also score main 182a483's detector")
    args = ap.parse_args()
    if args.fit:
        fit_confidence(args.fit)
        return
    t0 = time.perf_counter()
    if args.heldout:
        name = f"independent, held-out seeds {HELDOUT_SEEDS.start}…"
        report(name, *score_set(HELDOUT_SEEDS[: args.heldout]))
        if args.baseline:
            how = baseline_how()
            report(
                f"{name}, detector at main {BASELINE_COMMIT}",
                *score_set(HELDOUT_SEEDS[: args.heldout], **how),
            )
    if args.sim:
        for watch in ("we", "both"):
            name = f"simulator (SimWorld, symmetric Li|SE|Li), void watch {watch}"
            report(name, *sim_set(args.sim, watch))
    if args.simvoid:
        from analysis_simgrid import VOID_HELDOUT_SEEDS

        seeds = VOID_HELDOUT_SEEDS[: args.simvoid]
        name = f"simulator void grid (analysis_simgrid.void_case), held-out seeds {seeds.start}…"
        report(name, *sim_void_set(seeds))
    print(f"\nscored in {time.perf_counter() - t0:.0f} s")
    if not args.no_speed:
        throughput()


if __name__ == "__main__":
    main()
