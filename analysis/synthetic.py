"""Synthetic galvanostatic runs with known truth, for detector tests, benchmarks and demos.

A deliberately simple, fully vectorised Li|SE|Li (or Li|SE|Cu) response: ohmic plus linear
interfacial resistance, interfacial relaxation during rests (so current interrupts separate the
two), optional power-law interphase growth, a void-onset divergence in one stripping step, a
hard short (and soft drops before it), a finite CE, irregular sampling and a pressure stream.
It is not the physical simulator (sim_instruments); it exists so every detector has a truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.model import RunData, make_run


@dataclass
class SynthSpec:
    """What to generate; currents are given as current densities (A/m²)."""

    n_cycles: int = 10
    j: float | list[float] = 5.0
    half_s: float = 3600.0
    rest_s: float = 0.0
    dt: float = 1.0
    area_m2: float = 1e-4
    r_ohm: float = 20.0
    r_int: float = 30.0
    tau_relax: float = 20.0
    noise_v: float = 2e-4
    ce: float = 1.0
    first: str = "plate"
    growth_n: float | None = None
    growth_t0: float = 3600.0
    void_step: int | None = None
    void_after_s: float = 1800.0
    void_tau_s: float = 900.0
    short_time: float | None = None
    soft_times: list[float] = field(default_factory=list)
    jitter: float = 0.0
    pressure_pa: float | None = None
    pressure_excursions: list[tuple[float, float, float]] = field(default_factory=list)
    seed: int = 0


def _schedule(spec: SynthSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per step: duration (s), current density (A/m²), cycle number."""
    js = spec.j if isinstance(spec.j, list) else [spec.j] * spec.n_cycles
    sign = -1.0 if spec.first == "plate" else 1.0
    dur, jj, cyc = [], [], []
    for c, j in enumerate(js, start=1):
        for s in (sign, -sign):
            is_strip = s > 0
            d = spec.half_s * (spec.ce if (is_strip and spec.first == "plate") else 1.0)
            dur.append(d)
            jj.append(s * j)
            cyc.append(c)
            if spec.rest_s > 0:
                dur.append(spec.rest_s)
                jj.append(0.0)
                cyc.append(c)
    return np.array(dur), np.array(jj), np.array(cyc)


def synthetic_run(spec: SynthSpec) -> tuple[RunData, dict]:
    """Generate the run and a truth dict (void onset time, short time, CE, R_ohm, R_int ...)."""
    rng = np.random.default_rng(spec.seed)
    dur, jj, cyc = _schedule(spec)
    counts = np.maximum(np.round(dur / spec.dt).astype(np.int64), 1)
    step_start = np.concatenate(([0.0], np.cumsum(dur)[:-1]))
    row_start = np.concatenate(([0], np.cumsum(counts)[:-1]))
    n = int(counts.sum())
    step = np.repeat(np.arange(dur.size), counts)
    local = np.arange(n) - np.repeat(row_start, counts)
    tl = local * spec.dt
    if spec.jitter:
        tl = tl + rng.uniform(0, spec.jitter * spec.dt, n)
        tl[local == 0] = 0.0
    t = np.repeat(step_start, counts) + tl
    j = jj[step]
    current = j * spec.area_m2
    r_int = np.full(n, spec.r_int)
    if spec.growth_n is not None:
        r_int = spec.r_int * (1.0 + (t / spec.growth_t0) ** spec.growth_n)
    v = current * (spec.r_ohm + r_int)
    prev_i = np.concatenate(([0.0], jj[:-1])) * spec.area_m2
    rest = j == 0
    v[rest] = (prev_i[step] * r_int * np.exp(-tl / spec.tau_relax))[rest]
    truth: dict = {"r_ohm": spec.r_ohm, "r_int": spec.r_int, "area_m2": spec.area_m2}
    if spec.void_step is not None:
        rows = step == spec.void_step
        t_on = step_start[spec.void_step] + spec.void_after_s
        x = np.clip((t[rows] - t_on) / spec.void_tau_s, 0, None) ** 2
        v[rows] = v[rows] / (1.0 - np.minimum(x, 0.9))
        truth["void_time"] = t_on
        truth["void_charge"] = abs(jj[spec.void_step]) * spec.area_m2 * spec.void_after_s
    for ts in spec.soft_times:
        k = int(np.searchsorted(t, ts))
        v[k : k + 3] *= 0.5
    if spec.short_time is not None:
        after = t >= spec.short_time
        v[after] = current[after] * 0.02 * (spec.r_ohm + spec.r_int)
        truth["short_time"] = spec.short_time
        truth["short_cycle"] = int(cyc[step[np.argmax(after)]])
    v = v + rng.normal(0.0, spec.noise_v, n)
    electro = pd.DataFrame(
        {
            "time": t,
            "voltage": v,
            "current": current,
            "current_density": j,
            "step": step,
            "cycle": cyc[step],
        }
    )
    electro.attrs["units"] = {
        "time": "s",
        "voltage": "V",
        "current": "A",
        "current_density": "A/m2",
    }
    streams = {"electro": electro}
    if spec.pressure_pa is not None:
        tp = np.arange(0.0, t[-1] + spec.dt, 10 * spec.dt)
        p = spec.pressure_pa * (1 + 0.002 * rng.standard_normal(tp.size))
        for t0, t1, dp in spec.pressure_excursions:
            p[(tp >= t0) & (tp < t1)] += dp
        streams["pressure"] = pd.DataFrame({"time": tp, "pressure": p, "force": p * spec.area_m2})
    truth["ce"] = spec.ce if spec.first == "plate" else 1.0
    truth["n_cycles"] = int(cyc.max())
    metadata = {"sample": {"area_m2": spec.area_m2, "electrolyte": "synthetic"}}
    return make_run(streams, metadata=metadata, source="synthetic"), truth
