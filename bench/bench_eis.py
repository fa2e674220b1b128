"""Benchmark of impedance fitting and of simulated sweeps (issue 13, "Measure").

Prints, in one run of this script (single core; each figure next to its baseline from the
same run):
- fitting throughput, spectra/s, of a 60-point two-arc spectrum (R0-p(R1,CPE1)-p(R2,CPE2),
  0.3 % noise): ``analysis.impedance_fit.fit_spectrum`` (circuit string, log-space, bounds,
  standard errors; lin-KK off) vs a plain scipy ``least_squares`` of the same hand-written
  circuit from the same start; with each one's median error of R1 + R2;
- the same with lin-KK on (what ``impedance_table`` does per sweep);
- a simulated sweep (60 points, 200 kHz -> 0.1 Hz) through the MethodSCRIPT driver and twin
  over a pty on a virtual clock: wall time vs the sweep's simulated duration.

Usage: python bench/bench_eis.py [--spectra 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from scipy.optimize import least_squares

from analysis.impedance import spectrum
from analysis.impedance_circuits import parse_circuit
from analysis.impedance_fit import _initial, fit_spectrum
from daq.clock import VirtualClock
from drivers.registry import open_driver
from sim_instruments.lineserver import PtyLineServer
from sim_instruments.methodscript import MethodScriptEmulator
from sim_instruments.world import SimConfig, SimWorld

CIRCUIT = "R0-p(R1,CPE1)-p(R2,CPE2)"
TRUE = np.array([8.0, 40.0, 2e-6, 0.9, 120.0, 5e-4, 0.85])
FREQ = np.logspace(np.log10(2e5), -1, 60)


def spectra(n: int):
    rng = np.random.default_rng(1)
    z0 = parse_circuit(CIRCUIT)(TRUE, FREQ)
    out = []
    for _ in range(n):
        noise = 0.003 * np.abs(z0) * (rng.standard_normal(60) + 1j * rng.standard_normal(60))
        z = z0 + noise
        out.append(spectrum(FREQ, z.real, z.imag, "bench"))
    return out


def plain_scipy(s, x0: np.ndarray) -> np.ndarray:
    """The baseline: the circuit written out by hand, linear parameters, no bounds or errors."""
    w = 2 * np.pi * s.frequency

    def model(p):
        r0, r1, q1, n1, r2, q2, n2 = p
        return r0 + r1 / (1 + r1 * q1 * (1j * w) ** n1) + r2 / (1 + r2 * q2 * (1j * w) ** n2)

    def residual(p):
        d = (model(p) - s.z) / np.abs(s.z)
        return np.concatenate([d.real, d.imag])

    return least_squares(residual, x0, x_scale=np.abs(x0)).x


def bench_fits(n: int) -> None:
    data = spectra(n)
    circuit = parse_circuit(CIRCUIT)
    starts = [np.array([_initial(circuit, s)[k] for k in circuit.names]) for s in data]
    truth = TRUE[1] + TRUE[4]
    rows = []
    for label, run in (
        ("plain scipy least_squares", lambda s, x0: plain_scipy(s, x0)),
        ("fit_spectrum (lin-KK off)", lambda s, x0: _values(fit_spectrum(s, CIRCUIT, kk=False))),
        ("fit_spectrum (lin-KK on)", lambda s, x0: _values(fit_spectrum(s, CIRCUIT))),
    ):
        t = time.perf_counter()
        results = [run(s, x0) for s, x0 in zip(data, starts, strict=True)]
        dt = time.perf_counter() - t
        err = statistics.median(abs(r[1] + r[4] - truth) / truth for r in results)
        rows.append((label, n / dt, err))
    base = rows[0][1]
    print(f"fitting {n} spectra, 60 points, {CIRCUIT}, one core")
    for label, rate, err in rows:
        print(f"  {label:28s} {rate:8.1f} spectra/s  ({rate / base:5.2f} x baseline)  median |dR_int|/R_int {err:.2%}")  # fmt: skip


def _values(fit) -> np.ndarray:
    return np.array(list(fit.values.values()))


def bench_sweep() -> None:
    clock = VirtualClock()
    world = SimWorld(clock, SimConfig(preset="lpscl", initial_pressure_Pa=5e6))
    server = PtyLineServer(MethodScriptEmulator(world))
    ms = open_driver("methodscript", "bench", server.port, {"timeout": "1 s"}, clock)
    try:
        t = time.perf_counter()
        measured = ms.measure_eis(2e5, 0.1, 60, 0.01, 0.0)
        wall = time.perf_counter() - t
        sweep = world.truth()["eis_sweeps"][-1]
        simulated = sweep["end_s"] - sweep["start_s"]
    finally:
        ms.close()
        server.close()
    print(f"simulated sweep: 60 points 200 kHz -> 0.1 Hz, {len(measured.frequency)} received")
    print(f"  simulated duration {simulated:8.1f} s   wall time {wall:6.2f} s   ({simulated / wall:6.1f} x real time)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spectra", type=int, default=200)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    bench_fits(args.spectra)
    bench_sweep()


if __name__ == "__main__":
    main()
