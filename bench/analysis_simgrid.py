"""Score the analysis against the simulator's ground truth (sim_instruments.world.SimWorld).

A case drives one SimWorld on a VirtualClock through galvanostatic cycling (symmetric Li|SE|Li,
anode-free Li|SE|Cu stripping to a cut-off, or a CCD ramp), samples it at 1 s like the
Keithley buffer would, analyses the stream with ``analysis.pipeline.analyze_run`` and compares
with ``SimWorld.truth()``. Used by tests/test_analysis_validation.py (a small grid) and by
``python bench/analysis_simgrid.py`` (the full grid and the accuracy table in docs/analysis.md).
"""

from __future__ import annotations

import argparse
import itertools
import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from analysis.model import RunData, make_run
from analysis.pipeline import analyze_run
from analysis.validation.traces import ONSET_REL_RISE
from daq.clock import VirtualClock
from sim_instruments import constants as C
from sim_instruments.world import SimConfig, SimWorld

RAMP = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0)  # CCD ramp levels, A/m² (0.1 … 5 mA/cm²)
CUTOFF_V = 1.0  # anode-free stripping cut-off
V_LIMIT = 10.0  # compliance of the galvanostatic steps otherwise


@dataclass(frozen=True)
class Case:
    """One simulated run; ``j`` in A/m² (a list = CCD ramp levels, one cycle each)."""

    preset: str = "llzo"
    cell: str = "symmetric"
    j: float | tuple[float, ...] = 5.0
    pressure_Pa: float = 5e6
    temperature_K: float | None = None
    noise_scale: float = 1.0
    seed: int = 0
    cycles: int = 4
    half_s: float = 3600.0


def simulate(case: Case, area: float = 1e-4, dt: float = 1.0) -> tuple[RunData, dict]:
    """Run the case on a SimWorld; return the sampled run and the world's truth."""
    clock = VirtualClock()
    base = SimConfig()
    world = SimWorld(
        clock,
        SimConfig(
            preset=case.preset,
            cell=case.cell,
            area_m2=area,
            initial_pressure_Pa=case.pressure_Pa,
            temperature_K=case.temperature_K,
            seed=case.seed,
            noise_V=base.noise_V * case.noise_scale,
            noise_I_A=base.noise_I_A * case.noise_scale,
        ),
    )
    levels = list(case.j) if isinstance(case.j, tuple) else [case.j] * case.cycles
    chunks: list[tuple[np.ndarray, ...]] = []
    edges = [clock.now()]
    step = 0
    for cycle, j in enumerate(levels, start=1):
        for sign in (-1.0, 1.0):  # plate WE first (Li|Cu convention), then strip WE
            limit = CUTOFF_V if (case.cell == "anode_free" and sign > 0) else V_LIMIT
            t0 = clock.now()
            world.electro_source("current", sign * j * area, limit)
            clock.advance(case.half_s)
            t, v, i, _ = world.electro_samples(t0, clock.now(), dt)
            chunks.append((t, v, i, np.full(t.size, step), np.full(t.size, cycle)))
            edges.append(clock.now())
            step += 1
    cols = [np.concatenate(c) for c in zip(*chunks, strict=True)]
    electro = pd.DataFrame(
        dict(zip(("time", "voltage", "current", "step", "cycle"), cols, strict=True))
    )
    electrodes = "Li|Cu" if case.cell == "anode_free" else "Li|Li"
    meta = {"sample": {"area_m2": area, "electrolyte": case.preset, "electrodes": electrodes}}
    truth = world.truth()
    truth["step_edges"] = np.array(edges)
    return make_run({"electro": electro}, metadata=meta, source=f"sim:{case}"), truth


def void_excess_V(truth: dict, electrode: str) -> np.ndarray:
    """The void's own overpotential at one electrode ("we"/"ce") at every model knot: the
    contact term j·ASR_c/f less its full-contact value, plus Butler–Volmer at j/f less at j
    (the interface model of sim_instruments/cell.py: eta_ct = b·asinh(j/(2·j0·f)), b = 2RT/F)."""
    f = truth[f"contact_fraction_{electrode}"]
    con, ct = truth[f"eta_contact_{electrode}_V"], truth[f"eta_ct_{electrode}_V"]
    b = 2.0 * C.GAS_CONSTANT_J_PER_MOL_K / C.FARADAY_C_PER_MOL * truth["temperature_K"]
    return con * (1.0 - f) + ct - b * np.arcsinh(np.sinh(ct / b) * f)


def cell_void_V(truth: dict, sign: float) -> np.ndarray:
    """Both interfaces' void overpotential in the polarisation sign(I)·V of a half with current
    sign ``sign`` (+1 strips the WE): what the cell voltage carries of the voids. In Li|SE|Li the
    electrode being plated refills the voids its last strip opened while the other one opens
    new ones, so one electrode's own excess can grow while |V| stays flat or falls. The Cu WE
    of an anode-free cell has no voids (its contact term is Li coverage of the Cu)."""
    we = 0.0 if truth["cell"] == "anode_free" else void_excess_V(truth, "we")
    return sign * (we - void_excess_V(truth, "ce"))


def void_onsets(
    truth: dict, electrode: str, strip_halves: list[int], dt: float = 1.0
) -> list[float]:
    """True void onsets, one per stripping half of ``electrode`` at most: the first time the
    cell's void overpotential (:func:`cell_void_V`) has risen above its lowest value since the
    half start by ONSET_REL_RISE of the rest of |V| (the healthy polarisation) — the definition
    the independent set uses (analysis/validation/traces.py), where the other electrode carries
    no void term in such a half. Samples while a short path carries part of the current (I_ion
    below I) or after the hard short are left out: there |V| no longer measures the interfaces."""
    edges = truth["step_edges"]
    pv = cell_void_V(truth, 1.0 if electrode == "we" else -1.0)
    ionic = (np.abs(truth["I_ion"]) >= (1.0 - 1e-3) * np.abs(truth["I"])).astype(float)
    hard = truth["hard_short_time"]
    out = []
    for k in strip_halves:
        t = np.arange(edges[k] + dt, edges[k + 1], dt)
        t = t[(np.interp(t, truth["t"], ionic) == 1.0) & (hard is None or t < hard)]
        p = np.interp(t, truth["t"], pv)
        healthy = np.abs(np.interp(t, truth["t"], truth["V"])) - p
        hit = np.flatnonzero(p - np.minimum.accumulate(p) >= ONSET_REL_RISE * healthy)
        if hit.size:
            out.append(float(t[hit[0]]))
    return out


def simulate_tem(
    cycles: int = 2, bias_V: float = 2.0, half_s: float = 60.0, seed: int = 0
) -> tuple[RunData, dict]:
    """In situ TEM: touch a tubule, cycle -bias/+bias, frames every 1 s, holder every 0.1 s."""
    from analysis.model import Frames

    clock = VirtualClock()
    world = SimWorld(clock, SimConfig(seed=seed))
    while not world.holder_contact():
        world.holder_move("z", 50e-9)
    t_h, v_h, i_h, t_f, frames = [], [], [], [], []
    for _ in range(cycles):
        for sign in (-1.0, 1.0):
            world.holder_bias(sign * bias_V, 1e-6)
            for k in range(int(round(half_s / 0.1))):
                clock.advance(0.1)
                v, i, _ = world.holder_measure()
                t_h.append(clock.now())
                v_h.append(v)
                i_h.append(i)
                if k % 10 == 9:
                    t, img = world.camera_frame()
                    t_f.append(t)
                    frames.append(img)
    holder = pd.DataFrame({"time": t_h, "bias": v_h, "current": i_h})
    truth = world.truth()
    sample = {
        "area_m2": world.tubes.cross_section,
        "inner_diameter_m": world.tubes.W,
        "pixel_size_m": truth["frame_pixel_m"],
    }
    run = make_run(
        {"holder": holder},
        metadata={"sample": sample},
        frames=Frames(np.array(t_f), np.array(frames), truth["frame_pixel_m"]),
        source="sim:tem",
    )
    return run, truth


def score_tem(seed: int = 0) -> dict:
    """Front displacement error (m, against the true front at each frame) and filling efficiency."""
    run, truth = simulate_tem(seed=seed)
    res = analyze_run(run)
    t = res.imaging["time"]
    true_front = np.interp(t, truth["t"], truth["tubule_front_m"][:, 0])
    found = res.imaging["front"]  # metres: the pixel size is given
    err = (found - found[0]) - (true_front - true_front[0])
    return {
        "frames": int(t.size),
        "front_abs_error_median_m": float(np.median(np.abs(err))),
        "front_abs_error_p95_m": float(np.percentile(np.abs(err), 95)),
        "frames_off_by_over_3px": int(np.sum(np.abs(err) > 3 * truth["frame_pixel_m"])),
        "true_travel_m": float(np.ptp(true_front)),
        "filling_efficiency": res.summary.get("filling_efficiency", np.nan),
    }


def score_adams(preset: str = "lpscl", j: float = 5.0, n: int = 10, seed: int = 0) -> dict:
    """Reservoir (Adams) CE on an anode-free SimWorld cell against its true 1 - dead fraction.

    Formation (plate Q_C, strip to the cut-off), reservoir 5·Q_C, n cycles of Q_C, final strip
    to the cut-off. Stripping q consumes q/(1 - delta) of plated Li in the model, so once the
    final strip has used up the inventory the true average CE is exactly 1 - delta.
    """
    clock = VirtualClock()
    area = 1e-4
    world = SimWorld(
        clock,
        SimConfig(
            preset=preset, cell="anode_free", area_m2=area, initial_pressure_Pa=5e6, seed=seed
        ),
    )
    half = 1800.0
    plan = [(-1, half, V_LIMIT), (1, 3 * half, CUTOFF_V), (-1, 5 * half, V_LIMIT)]
    plan += [(-1, half, V_LIMIT), (1, half, V_LIMIT)] * n + [(1, 12 * half, CUTOFF_V)]
    chunks = []
    for k, (sign, duration, limit) in enumerate(plan):
        t0 = clock.now()
        world.electro_source("current", sign * j * area, limit)
        clock.advance(duration)
        t, v, i, _ = world.electro_samples(t0, clock.now(), 1.0)
        chunks.append((t, v, i, np.full(t.size, k)))
    cols = [np.concatenate(c) for c in zip(*chunks, strict=True)]
    electro = pd.DataFrame(dict(zip(("time", "voltage", "current", "step"), cols, strict=True)))
    meta = {"sample": {"area_m2": area, "electrolyte": preset, "electrodes": "Li|Cu"}}
    res = analyze_run(make_run({"electro": electro}, metadata=meta, source=f"sim:adams:{preset}"))
    true = 1.0 - world.preset.dead_li_fraction
    found = res.summary.get("ce_reservoir", np.nan)
    return {
        "preset": preset,
        "ce_true": true,
        "ce_reservoir": found,
        "abs_error": abs(found - true),
    }


def _true_ce(truth: dict) -> np.ndarray:
    """CE per cycle from the noise-free ionic current at the model knots, between source switches."""
    t, i = truth["t"], truth["I_ion"]
    cum = np.concatenate(([0.0], np.cumsum(0.5 * (i[1:] + i[:-1]) * np.diff(t))))
    q = np.diff(np.interp(truth["step_edges"], t, cum))
    return q[1::2] / -q[0::2]


def score(case: Case) -> dict:
    """Simulate, analyse and compare one case; one row of the accuracy table."""
    run, truth = simulate(case)
    res = analyze_run(run)
    s = res.summary
    row = {**asdict(case), "j": str(case.j)}
    # the electrode the void watch covers by default: the WE in Li|SE|Li, the Li CE in Li|Cu;
    # halves alternate plating the WE (even) and stripping it (odd)
    n = len(truth["step_edges"]) - 1
    if case.cell == "anode_free":
        voids = void_onsets(truth, "ce", list(range(0, n, 2)))
    else:
        voids = void_onsets(truth, "we", list(range(1, n, 2)))
    row["true_void"] = voids[0] if voids else np.nan
    row["found_void"] = s.get("void_onset_time", np.nan)
    row["true_short"] = truth["short_time"] if truth["short_time"] is not None else np.nan
    row["true_hard_short"] = (
        truth["hard_short_time"] if truth["hard_short_time"] is not None else np.nan
    )
    row["found_soft_short"] = s.get("soft_short_time", np.nan)
    row["found_hard_short"] = s.get("hard_short_time", np.nan)
    if case.cell == "anode_free" and len(res.cycles):
        true = _true_ce(truth)
        found = res.cycles["ce"].to_numpy()
        n = min(true.size, found.size)
        row["ce_true_mean"] = float(np.mean(true[:n]))
        row["ce_max_abs_error"] = float(np.max(np.abs(found[:n] - true[:n])))
    if isinstance(case.j, tuple):
        row["ccd_found"] = s.get("ccd_j_crit", np.nan)
        row["ccd_mode"] = s.get("ccd_failure_mode", "")
        hard = truth["hard_short_time"]
        if hard is not None:
            k = int(hard // (2 * case.half_s))
            row["ccd_true"] = case.j[min(k, len(case.j) - 1)]
    return row


def default_grid(small: bool = False) -> list[Case]:
    """Symmetric (J × P × T × preset × noise × seed), anode-free CE cases and CCD ramps."""
    if small:
        sym = [
            Case("llzo", j=j, pressure_Pa=p, seed=s)
            for j, p, s in [(2.0, 5e6, 0), (10.0, 1e6, 1), (5.0, 10e6, 2)]
        ]
        af = [Case("lipon", "anode_free", j=2.0, pressure_Pa=5e6, cycles=3, half_s=1800.0)]
        ramp = [Case("llzo", j=RAMP, pressure_Pa=2e6, half_s=1800.0)]
        return sym + af + ramp
    sym = [
        Case(preset, j=j, pressure_Pa=p, temperature_K=temp, noise_scale=noise, seed=seed)
        for preset, j, p, temp, noise, seed in itertools.product(
            ("llzo", "lpscl", "latp"),
            (2.0, 5.0, 10.0),
            (1e6, 5e6, 10e6),
            (None, 333.15),
            (1.0, 5.0),
            (0, 1),
        )
    ]
    af = [
        Case(
            preset,
            "anode_free",
            j=j,
            pressure_Pa=5e6,
            cycles=4,
            half_s=1800.0,
            noise_scale=noise,
            seed=seed,
        )
        for preset, j, noise, seed in itertools.product(
            ("llzo", "lpscl", "peo", "lipon", "latp"), (1.0, 2.0), (1.0, 5.0), (0, 1)
        )
    ]
    ramp = [
        Case(preset, j=RAMP, pressure_Pa=p, half_s=1800.0, seed=seed)
        for preset, p, seed in itertools.product(("llzo", "lpscl"), (1e6, 5e6), (0, 1, 2))
    ]
    return sym + af + ramp


#: Void-grid seeds the detector may be tuned on / the ones it is scored on (disjoint).
VOID_TUNING_SEEDS = range(0, 1000)
VOID_HELDOUT_SEEDS = range(10_000, 11_000)


def void_case(seed: int) -> Case:
    """One case of the void-focused grid, its conditions drawn from ``seed``.

    SimWorld makes WE voids within 1-h halves only in a narrow window: LLZO at 25 °C,
    0.13–0.26 mA/cm² and 0.5–2.5 MPa (at 60 °C, in LPS-Cl — shorts in half 0 — and in LATP —
    interphase growth, shorts — it makes none; at >= 0.3 mA/cm² the cell shorts in half 1).
    The conditions are drawn continuously so the onset varies (the world's own seed changes
    the noise, not the void physics): 70 % in the void window, 15 % at 2.5–4 MPa (no void,
    the pressure resupplies Li), 15 % LATP (interphase growth, shorts; the WE's own void term
    stays small, but the cell's passes 1 % in 5 of the 28 LATP runs of held-out seeds
    10000–10199) — mostly the void-free traces false alarms are counted on. 5 cycles
    (10 halves), noise ×1–5.
    """
    rng = np.random.default_rng([seed, 0x501D])
    kind = rng.random()
    j = float(np.exp(rng.uniform(np.log(1.3), np.log(2.6))))
    if kind < 0.7:
        preset, p = "llzo", rng.uniform(0.5e6, 2.5e6)
    elif kind < 0.85:
        preset, p = "llzo", rng.uniform(2.5e6, 4e6)
    else:
        preset, p = "latp", rng.uniform(0.5e6, 3e6)
    noise = float(np.exp(rng.uniform(0.0, np.log(5.0))))
    return Case(preset, j=j, pressure_Pa=float(p), noise_scale=noise, seed=seed, cycles=5)


def summarize(rows: pd.DataFrame) -> dict[str, float]:
    """Aggregate accuracy: void-onset error, short precision/recall/delay, CCD and CE."""
    out: dict[str, float] = {}
    has_void = rows["true_void"].notna()
    found_void = rows["found_void"].notna()
    err = (rows["found_void"] - rows["true_void"])[has_void & found_void]
    out["void_cases"] = int(has_void.sum())
    out["void_recall"] = float((has_void & found_void).sum() / max(1, has_void.sum()))
    out["void_false_alarm_rate"] = float((~has_void & found_void).sum() / max(1, (~has_void).sum()))
    out["void_error_median_s"] = float(np.median(err)) if len(err) else np.nan
    out["void_abs_error_p90_s"] = float(np.percentile(np.abs(err), 90)) if len(err) else np.nan
    true_s, found_s = rows["true_short"].notna(), rows["found_hard_short"].notna()
    tp = (true_s & found_s).sum()
    out["short_cases"] = int(true_s.sum())
    out["short_precision"] = float(tp / max(1, found_s.sum()))
    out["short_recall"] = float(tp / max(1, true_s.sum()))
    delay = (rows["found_hard_short"] - rows["true_hard_short"])[
        true_s & found_s & rows["true_hard_short"].notna()
    ]
    out["hard_short_delay_median_s"] = float(np.median(delay)) if len(delay) else np.nan
    soft = (rows["found_soft_short"] - rows["true_short"])[
        true_s & rows["found_soft_short"].notna()
    ]
    out["soft_short_delay_median_s"] = float(np.median(soft)) if len(soft) else np.nan
    if "ce_max_abs_error" in rows:
        ce = rows["ce_max_abs_error"].dropna()
        out["ce_cases"] = len(ce)
        out["ce_max_abs_error"] = float(ce.max()) if len(ce) else np.nan
    if "ccd_true" in rows:
        r = rows.dropna(subset=["ccd_true", "ccd_found"])
        levels = np.array(RAMP)
        steps_off = [
            abs(int(np.argmin(abs(levels - a))) - int(np.argmin(abs(levels - b))))
            for a, b in zip(r["ccd_true"], r["ccd_found"], strict=True)
        ]
        out["ccd_cases"] = int(rows["ccd_true"].notna().sum())
        out["ccd_within_one_step"] = (
            float(np.mean(np.array(steps_off) <= 1)) if steps_off else np.nan
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description="score analysis against SimWorld ground truth")
    ap.add_argument("--small", action="store_true", help="the small grid used by the test")
    ap.add_argument("--csv", help="write the per-case table here")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = pd.DataFrame([score(c) for c in default_grid(args.small)])
    if args.csv:
        rows.to_csv(args.csv, index=False)
    print(f"{len(rows)} cases in {time.perf_counter() - t0:.0f} s")
    for k, v in summarize(rows).items():
        print(f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |")
    adams_cases = [("llzo", 5.0, 10), ("lpscl", 2.0, 10), ("lipon", 5.0, 10), ("peo", 2.0, 5)]
    adams = pd.DataFrame([score_adams(p, j, n) for p, j, n in adams_cases])
    print("reservoir (Adams) CE, anode-free:")
    print(adams.to_string(index=False))
    tem = pd.DataFrame([score_tem(seed) for seed in range(1 if args.small else 8)])
    print("in situ TEM (2 cycles of -2 V / +2 V, 60 s each, frames at 1 s):")
    print(tem.to_string(index=False))


if __name__ == "__main__":
    main()
