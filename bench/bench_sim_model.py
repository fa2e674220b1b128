"""In-process speed of the cell model: 1000 plating/stripping cycles, 1 h half cycles, 1 s grid.

Target (issue 3): 7.2 M samples in <= 10 s. The block path asks the world for one buffered
block per half cycle (``electro_samples``); the baseline in the same run is the naive path a
per-sample loop would take (advance 1 s, ``electro_measure``), timed on a slice of the run and
extrapolated. Prints samples/s, the acceleration factor (simulated s per wall s) and the speedup.

    /work/venv/bin/python bench/bench_sim_model.py [--cycles 1000] [--baseline-cycles 10]
"""

from __future__ import annotations

import argparse
import time

from daq.clock import VirtualClock
from sim_instruments.world import SimConfig, SimWorld

HALF_CYCLE_S = 3600.0
CURRENT_A = 0.1e-3  # 0.1 mA/cm2 on 1 cm2, LLZO at 3 MPa: stable cycling
LIMIT_V = 5.0


def block_run(cycles: int) -> tuple[int, float]:
    """One electro_samples block per half cycle; returns (samples, wall seconds)."""
    clock = VirtualClock()
    world = SimWorld(clock, SimConfig(preset="llzo", initial_pressure_Pa=3e6))
    samples = 0
    start = time.perf_counter()
    t = 0.0
    for _ in range(cycles):
        for sign in (-1.0, 1.0):
            world.electro_source("current", sign * CURRENT_A, LIMIT_V)
            clock.advance(HALF_CYCLE_S)
            times, _, _, _ = world.electro_samples(t, t + HALF_CYCLE_S, 1.0)
            samples += len(times)
            t += HALF_CYCLE_S
    return samples, time.perf_counter() - start


def naive_run(cycles: int) -> tuple[int, float]:
    """Per-sample loop: advance the clock 1 s and read one sample."""
    clock = VirtualClock()
    world = SimWorld(clock, SimConfig(preset="llzo", initial_pressure_Pa=3e6))
    samples = 0
    start = time.perf_counter()
    for _ in range(cycles):
        for sign in (-1.0, 1.0):
            world.electro_source("current", sign * CURRENT_A, LIMIT_V)
            for _ in range(int(HALF_CYCLE_S)):
                clock.advance(1.0)
                world.electro_measure()
                samples += 1
    return samples, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--baseline-cycles", type=int, default=10)
    args = parser.parse_args()
    n, wall = block_run(args.cycles)
    simulated = 2 * args.cycles * HALF_CYCLE_S
    print(
        f"block path : {n:,} samples in {wall:.2f} s -> {n / wall:,.0f} samples/s, "
        f"acceleration x{simulated / wall:,.0f} (target: 7.2 M samples <= 10 s)"
    )
    nb, wall_b = naive_run(args.baseline_cycles)
    rate_b = nb / wall_b
    print(
        f"naive loop : {nb:,} samples in {wall_b:.2f} s -> {rate_b:,.0f} samples/s, "
        f"acceleration x{2 * args.baseline_cycles * HALF_CYCLE_S / wall_b:,.0f}; "
        f"extrapolated to {n:,} samples: {n / rate_b:.0f} s"
    )
    print(f"speedup of the block path over the naive loop: x{(n / wall) / rate_b:.0f}")


if __name__ == "__main__":
    main()
