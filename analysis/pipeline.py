"""Full analysis of one run: segmentation, metrics, detectors, summary row.

:func:`analyze_run` is what ``ssbench analyze`` runs per file; it returns a
:class:`RunAnalysis` holding every table (steps, cycles, events, interrupts, excursions) and a
flat ``summary`` dict (one row of the batch table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis import (
    capacity,
    ccd,
    ce,
    cell,
    counters,
    fullcell,
    growth,
    imaging,
    interrupt,
    live,
    overpotential,
    pressure,
    segment,
)
from analysis.detect import Event, run_detector, voids_before_hard_short
from analysis.errors import AnalysisError
from analysis.model import RunData


@dataclass
class AnalysisOptions:
    """Knobs of the analysis; defaults suit galvanostatic Li|SE|Li and Li|SE|Cu runs."""

    middle: float = 0.8
    ocv: str = "zero"
    rest_tol: float | None = None
    use_recorded_steps: bool = True
    strip_sign: int | None = None
    relax_s: float = 60.0
    void: dict[str, float] = field(default_factory=dict)
    short: dict[str, float] = field(default_factory=dict)
    inner_diameter_m: float | None = None
    cell: str | None = None
    cycle_start: str | None = None
    active_mass_kg: float | None = None  # capacity per gram of cathode cells (--mass)


@dataclass
class RunAnalysis:
    """Everything computed for one run."""

    source: str
    steps: pd.DataFrame
    cycles: pd.DataFrame
    events: pd.DataFrame
    interrupts: pd.DataFrame
    excursions: pd.DataFrame
    summary: dict[str, Any]
    ccd: dict[str, Any]
    growth: dict[str, float]
    imaging: dict[str, Any]
    warnings: list[str]


def _events_frame(found: list[Event], steps: pd.DataFrame, recorded: pd.DataFrame) -> pd.DataFrame:
    """Detected and recorded events in one table, each with its step and cycle."""
    rows = [
        {
            "time": e.time,
            "kind": e.kind,
            "message": e.message,
            "confidence": e.confidence,
            "origin": "detector",
            **{f"v_{k}": float(v) for k, v in e.values.items()},
        }
        for e in found
    ]
    for rec in recorded.itertuples(index=False):
        rows.append(
            {
                "time": float(rec.time),
                "kind": str(rec.kind),
                "message": str(rec.message),
                "confidence": np.nan,
                "origin": "recorded",
            }
        )
    table = pd.DataFrame(
        rows, columns=None if rows else ["time", "kind", "message", "confidence", "origin"]
    )
    if table.empty:
        table["step"] = pd.Series(dtype=int)
        table["cycle"] = pd.Series(dtype=int)
        return table
    k = np.clip(
        np.searchsorted(steps["start_time"].to_numpy(), table["time"].to_numpy(), side="right") - 1,
        0,
        len(steps) - 1,
    )
    table["step"] = steps["step"].to_numpy()[k]
    table["cycle"] = steps["cycle"].to_numpy()[k]
    return table.sort_values("time", kind="stable").reset_index(drop=True)


def _before_short(voids: list[Event], shorts: list[Event], warnings: list[str]) -> list[Event]:
    """Void onsets from a minute before the first hard short on are dropped (the shorting path
    switching); soft-short calls never suppress them (detect.voids_before_hard_short)."""
    kept = voids_before_hard_short(voids, shorts)
    if len(kept) < len(voids):
        warnings.append(
            f"{len(voids) - len(kept)} void-onset candidate(s) after the first hard short ignored"
        )
    return kept


#: Exit statuses after which the last step was cut by the run's end, not by the protocol.
ABNORMAL_END = ("aborted", "failed", "interrupted", "tripped")


def run_end(run: RunData) -> ccd.RunEnd:
    """The run's recorded outcome, abort and abnormal end (exit status), for CCD and cycles."""
    ev = run.events
    outcome = None
    for rec in ev[ev["kind"] == "outcome"].itertuples(index=False):
        outcome = {"time": float(rec.time), **rec.data}
        break
    aborts = ev.loc[ev["kind"] == "abort", "time"]
    status = str(run.metadata.get("exit_status") or "")
    truncated_at = float(aborts.min()) if len(aborts) else None
    if truncated_at is None and status in ABNORMAL_END and "electro" in run.streams:
        truncated_at = float(run.electro["time"].iat[-1])
    return ccd.RunEnd(outcome, truncated_at, aborted=bool(len(aborts)) or status == "aborted")


def _cell_description(run: RunData, steps: pd.DataFrame, warnings: list[str]) -> dict[str, Any]:
    """Sample metadata for the detectors, with the cell type filled in when the sample omits it.

    An anode-free (Li|Cu) cell's strips end by Li depletion — an expected rise, no void — so the
    void watch must know the cell: from the sample's ``electrodes``, else the simulated station's
    ``cell``, else the data: plating first and every strip ending below the charge just plated.
    """
    sample = {**(run.metadata.get("sample") or {}), "area_m2": run.area_m2}
    if sample.get("electrodes") or sample.get("cell"):
        return sample
    sim = ((run.metadata.get("station") or {}).get("station_file") or {}).get("simulation") or {}
    if sim.get("cell"):
        return {**sample, "cell": str(sim["cell"])}
    active = steps[steps["type"] != "rest"]
    kinds = active["type"].to_numpy()
    q = active["charge"].abs().to_numpy()
    strips = np.flatnonzero(kinds[1:] == "strip") + 1
    if (
        kinds.size >= 2
        and kinds[0] == "plate"
        and strips.size
        and np.all(kinds[strips - 1] == "plate")
        and np.all(q[strips] < 0.995 * q[strips - 1])
    ):
        warnings.append(
            "sample electrodes unknown; every strip ends below the charge just plated, so the "
            "cell is taken as anode-free (Li|Cu): end-of-strip rises are not voids"
        )
        return {**sample, "cell": "anode_free"}
    return sample


def _sign_warning(steps: pd.DataFrame) -> list[str]:
    """Warn when polarisation opposes the current in a Li-referenced cell (reversed sign)."""
    cc = steps[(steps["mode"] == "cc") & steps["eta_plateau"].notna()]
    if len(cc) < 2 or np.median(np.abs(cc["eta_plateau"])) > 1.0:
        return []
    agree = np.mean(np.sign(cc["eta_plateau"]) == np.sign(cc["mean_current"]))
    if agree < 0.2:
        return [
            "the voltage opposes the current in most steps: the file probably uses the opposite "
            "current sign (re-import with --invert-current); plate/strip labels are swapped"
        ]
    return []


def analyze_run(run: RunData, options: AnalysisOptions | None = None) -> RunAnalysis:
    """Analyse one run end to end."""
    opt = options or AnalysisOptions()
    warnings = list(run.warnings)
    if "electro" not in run.streams:
        return _imaging_only(run, opt, warnings)
    e = run.electro
    area = run.area_m2
    if e.empty:
        raise AnalysisError(
            f"{run.source or 'run'}: no usable electro samples ({'; '.join(warnings) or 'empty stream'})"
        )
    kind = _kind(run, opt)
    steps = segment.step_table(
        e,
        rest_tol=opt.rest_tol,
        use_recorded=opt.use_recorded_steps,
        cycle_start=opt.cycle_start or cell.CYCLE_START[kind.kind],
        warnings=warnings,
    )
    if kind.kind == "cathode":
        return _analyze_cathode(run, opt, steps, kind, warnings)
    steps = pd.concat(
        [steps, overpotential.step_overpotentials(e, steps, middle=opt.middle, ocv=opt.ocv)], axis=1
    )
    warnings += _sign_warning(steps)
    i_abs_tol = segment.rest_tolerance(e["current"].to_numpy(dtype=float), opt.rest_tol)
    described = _cell_description(run, steps, warnings)
    if kind.kind is None and live.strip_sign_for(described) == -1:
        kind = cell.CellKind("li_cu", "inferred from the data or the simulated station")
    elif kind.kind is None and "cell" in described:
        kind = cell.CellKind("li_li", f"simulated station cell {described['cell']!r}")
    void_det, short_det = live.detectors_for(
        described,
        rest_current=max(i_abs_tol, 1e-15),
        strip_sign=opt.strip_sign,
        void=opt.void,
        short=opt.short,
    )
    voids = run_detector(void_det, e)
    shorts = run_detector(short_det, e)
    found = _before_short(voids, shorts, warnings) + shorts
    _stream_means(run, steps)
    end = run_end(run)
    hard_found = [ev.time for ev in shorts if ev.kind == "hard_short"]
    soft_found = [ev.time for ev in shorts if ev.kind == "soft_short"]
    cut_times = _cut_times(run, hard_found[0] if hard_found else None)
    cycles = segment.cycle_table(steps, cut_times)
    cyc_eta = overpotential.cycle_overpotentials(steps)
    if not cycles.empty and not cyc_eta.empty:
        cycles = cycles.merge(cyc_eta, on="cycle", how="left")
    events = _events_frame(found, steps, run.events)
    interrupts = interrupt.interrupt_resistances(e, steps, relax_s=opt.relax_s, area_m2=area)
    excursions = (
        pressure.pressure_excursions(run.streams["pressure"])
        if "pressure" in run.streams
        else pd.DataFrame()
    )
    hard = events[(events["kind"] == "hard_short") & (events["origin"] == "detector")]
    short_time = float(hard["time"].iat[0]) if len(hard) else None
    ccd_result = ccd.ccd_analysis(
        steps, short_time, soft_time=min(soft_found) if soft_found else None, end=end
    )
    growth_result = _growth(steps, interrupts, short_time)
    imaging_result = _imaging(run, opt, warnings)
    summary = _common_summary(run, steps, cycles, kind, warnings) | _summary(
        run,
        steps,
        cycles,
        events,
        interrupts,
        excursions,
        ccd_result,
        growth_result,
        imaging_result,
        warnings,
    )
    return RunAnalysis(
        run.source,
        steps,
        cycles,
        events,
        interrupts,
        excursions,
        summary,
        ccd_result,
        growth_result,
        imaging_result,
        warnings,
    )


def _kind(run: RunData, opt: AnalysisOptions) -> cell.CellKind:
    """The cell kind: the user's --cell, else the sample description or voltage window."""
    if opt.cell:
        if opt.cell not in cell.KINDS:
            raise AnalysisError(f"cell must be one of {', '.join(cell.KINDS)}, got {opt.cell!r}")
        return cell.CellKind(opt.cell, "given by the user")
    return cell.cell_kind(run.metadata.get("sample") or {}, run.electro)


def _stream_means(run: RunData, steps: pd.DataFrame) -> None:
    """Mean stack pressure and temperature per step, as step columns, when recorded."""
    for name, col in (("pressure", "pressure"), ("thermal", "temperature")):
        if name in run.streams:
            steps[col] = pressure.stream_step_means(run.streams[name], col, steps)


def _cut_times(run: RunData, hard_short: float | None = None) -> tuple[float, ...]:
    """Times that end a cycle early: abort, abnormal end, recorded outcome, a hard short."""
    end = run_end(run)
    found = (end.truncated_at, (end.outcome or {}).get("time"), hard_short)
    return tuple(t for t in found if t is not None)


def _common_summary(
    run: RunData,
    steps: pd.DataFrame,
    cycles: pd.DataFrame,
    kind: cell.CellKind,
    warnings: list[str],
) -> dict[str, Any]:
    """Summary fields every electro run has: size, cell kind and convention, counter check."""
    e = run.electro
    dev, notes = counters.counter_check(steps)
    warnings += notes
    return {
        "source": run.source,
        "n_samples": len(e),
        "duration_s": float(e["time"].iat[-1] - e["time"].iat[0]),
        "n_steps": len(steps),
        "n_cycles": len(cycles),
        "n_incomplete_cycles": int((~cycles["complete"].astype(bool)).sum()) if len(cycles) else 0,
        "area_m2": run.area_m2,
        "electrolyte": (run.metadata.get("sample") or {}).get("electrolyte"),
        "cell_type": kind.kind or "li_metal",
        "cell_type_reason": kind.reason,
        "ce_convention": cell.CE_CONVENTION[kind.kind],
        "counter_max_deviation": dev,
    }


def _analyze_cathode(
    run: RunData,
    opt: AnalysisOptions,
    steps: pd.DataFrame,
    kind: cell.CellKind,
    warnings: list[str],
) -> RunAnalysis:
    """A cell with a cathode: capacity, CE (discharge/charge), energy efficiency, polarization.

    Overpotential, Nernst stress, void and short detection assume Li-metal electrodes near 0 V
    and are not computed.
    """
    e = run.electro
    _stream_means(run, steps)
    cycles = segment.cycle_table(steps, _cut_times(run), ce_of="discharge/charge")
    cycles = capacity.cathode_cycles(steps, cycles)
    events = _events_frame([], steps, run.events)
    interrupts = interrupt.interrupt_resistances(e, steps, relax_s=opt.relax_s, area_m2=run.area_m2)
    summary = _common_summary(run, steps, cycles, kind, warnings)
    summary.update(capacity.cathode_summary(cycles, run.area_m2))
    mass, nominal = fullcell.sample_basis(
        run.metadata.get("sample") or {}, run.area_m2, opt.active_mass_kg
    )
    cycles = fullcell.capacity_columns(cycles, mass, run.area_m2)
    cycles = fullcell.cycle_extras(cycles, steps, nominal, run.streams.get("pressure"))
    if nominal:
        summary["nominal_capacity_C"] = float(nominal)
    extra, notes = fullcell.summary(cycles, steps, nominal, run.streams.get("pressure"))
    summary.update(extra)
    warnings += notes
    if len(interrupts):
        summary["r_ohm_median"] = float(interrupts["r_ohm"].median())
    if "pressure" in steps:
        summary["pressure_mean_Pa"] = float(np.nanmean(steps["pressure"]))
    if "temperature" in steps:
        summary["temperature_mean_K"] = float(np.nanmean(steps["temperature"]))
    summary["n_warnings"] = len(warnings)
    empty = pd.DataFrame()
    return RunAnalysis(
        run.source, steps, cycles, events, interrupts, empty, summary, {}, {}, {}, warnings
    )


def holder_stream(run: RunData) -> pd.DataFrame | None:
    """The bias holder's samples as time/bias/current: the engine's ``bias`` stream (its
    ``voltage`` is the bias) or an imported ``holder`` stream."""
    if "holder" in run.streams:
        return run.streams["holder"]
    bias = run.streams.get("bias")
    if bias is None or not {"voltage", "current"} <= set(bias.columns):
        return None
    return bias.rename(columns={"voltage": "bias"})[["time", "bias", "current"]]


def _imaging_summary(img: dict[str, Any]) -> dict[str, Any]:
    """Front travel and robust plating speed, with the length unit in the column names."""
    u = img["unit"]
    out: dict[str, Any] = {
        f"front_travel_{u}": float(np.ptp(img["front"])),
        f"front_speed_plating_{u}_s": imaging.plating_speed(img["time"], img["front"]),
    }
    if "filling_efficiency" in img:
        out["filling_efficiency"] = img["filling_efficiency"]
    return out


def _imaging_only(run: RunData, opt: AnalysisOptions, warnings: list[str]) -> RunAnalysis:
    """A run without a potentiostat stream (in situ TEM: holder + frames): imaging and bias."""
    img = _imaging(run, opt, warnings)
    if not img:
        raise AnalysisError(f"{run.source or 'run'}: no electro stream and no frames to analyse")
    summary: dict[str, Any] = {"source": run.source, "n_frames": len(img["time"])}
    summary.update(_imaging_summary(img))
    holder = holder_stream(run)
    steps = pd.DataFrame()
    if holder is not None and len(holder) > 1:
        diameter = opt.inner_diameter_m or (run.metadata.get("sample") or {}).get(
            "inner_diameter_m"
        )
        steps = imaging.bias_steps(
            holder, img["time"], img["front"], diameter if img["unit"] == "m" else None
        )
        plating = steps[steps["charge"] < 0]
        summary["n_bias_steps"] = len(steps)
        summary["holder_charge_C"] = float(steps["charge"].sum())
        summary["holder_plated_charge_C"] = float(-plating["charge"].sum())
        summary["max_abs_bias_V"] = float(holder["bias"].abs().max())
        # the bias includes every resistance in the circuit: an upper bound on the interface's
        summary["nernst_stress_upper_bound_Pa"] = float(
            overpotential.nernst_stress(summary["max_abs_bias_V"])
        )
    summary["n_warnings"] = len(warnings)
    empty = pd.DataFrame()
    events = _events_frame(
        [], pd.DataFrame({"start_time": [0.0], "step": [0], "cycle": [0]}), run.events
    )
    return RunAnalysis(
        run.source, steps, empty, events, empty, empty, summary, {}, {}, img, warnings
    )


def _growth(
    steps: pd.DataFrame, interrupts: pd.DataFrame, short_time: float | None
) -> dict[str, float]:
    """Growth exponent from step ASR (constant-current steps), else from interrupt R_total.

    Only data before a hard short count (after it the resistance is the filament's), and only
    steps at the most used |J| level, since ASR also depends on J (Butler–Volmer).
    """
    if short_time is not None:
        steps = steps[steps["end_time"] < short_time]
        interrupts = interrupts[interrupts["time"] < short_time]
    cc = steps[(steps["mode"] == "cc") & steps["asr"].notna()]
    if len(cc):
        col = "mean_j" if cc["mean_j"].notna().all() else "mean_current"
        level = ccd.current_levels(cc[col].to_numpy())
        cc = cc[level == np.bincount(level).argmax()]
    if len(cc) >= 5:
        mid = 0.5 * (cc["start_time"] + cc["end_time"])
        return {"series": "step_asr", **growth.growth_exponent(mid, cc["asr"])}
    if len(interrupts) >= 5:
        return {
            "series": "interrupt_r_total",
            **growth.growth_exponent(interrupts["time"], interrupts["r_total"]),
        }
    return {}


def _imaging(run: RunData, opt: AnalysisOptions, warnings: list[str]) -> dict[str, Any]:
    """Kymograph, front and velocity (and filling efficiency) when the run has frames.

    Lengths are in metres when the pixel size is known (``sample.pixel_size_m``), else in
    pixels: ``unit`` says which, and summary columns carry it (``front_travel_px``).
    """
    fr = run.frames
    if fr is None or len(fr.time) == 0:
        return {}
    if not fr.pixel_size_m:
        warnings.append(
            "frames have no pixel size (sample pixel_size_m): front positions and speeds are in "
            "pixels (columns *_px)"
        )
    px = fr.pixel_size_m or 1.0
    kymo = imaging.kymograph(fr)
    pos = imaging.front_positions(kymo, px)
    out: dict[str, Any] = {
        "time": np.asarray(fr.time),
        "kymograph": kymo,
        "front": pos,
        "velocity": imaging.front_velocity(fr.time, pos),
        "unit": "m" if fr.pixel_size_m else "px",
        "pixel_size_m": fr.pixel_size_m,
    }
    diameter = opt.inner_diameter_m or (run.metadata.get("sample") or {}).get("inner_diameter_m")
    holder = holder_stream(run)
    if diameter and fr.pixel_size_m and holder is not None and len(holder) > 1:
        th, ih = holder["time"].to_numpy(), holder["current"].to_numpy()
        cum = np.concatenate(([0.0], np.cumsum(0.5 * (ih[1:] + ih[:-1]) * np.diff(th))))
        q_at = np.interp(np.asarray(fr.time), th, cum)
        try:
            out["filling_efficiency"] = imaging.filling_efficiency(pos, q_at, diameter)
        except AnalysisError as exc:
            warnings.append(f"filling efficiency not computed: {exc}")
    return out


def _first(events: pd.DataFrame, kind: str) -> pd.Series | None:
    """The first detector event of ``kind``, if any."""
    rows = events[(events["kind"] == kind) & (events["origin"] == "detector")]
    return rows.iloc[0] if len(rows) else None


def _summary(
    run: RunData,
    steps: pd.DataFrame,
    cycles: pd.DataFrame,
    events: pd.DataFrame,
    interrupts: pd.DataFrame,
    excursions: pd.DataFrame,
    ccd_result: dict[str, Any],
    growth_result: dict[str, float],
    imaging_result: dict[str, Any],
    warnings: list[str],
) -> dict[str, Any]:
    """The Li-metal part of the batch row (after :func:`_common_summary`)."""
    e = run.electro
    s: dict[str, Any] = {}
    s.update(ce.ce_summary(cycles, run.area_m2) if not cycles.empty else {})
    res = ce.reservoir_ce(steps)
    if res:
        s.update(res)
    if not cycles.empty and "eta_plate" in cycles:
        for col in ("eta_plate", "eta_strip", "hysteresis", "asr_plate", "asr_strip"):
            s[f"{col}_median"] = (
                float(np.nanmedian(cycles[col])) if cycles[col].notna().any() else np.nan
            )
    r_ohm, r_source = overpotential.ohmic_resistance(e, steps, interrupts)
    s["r_bulk_ohm"], s["r_bulk_source"] = r_ohm, r_source
    if np.isfinite(r_ohm):
        peak = overpotential.interfacial_peak(steps, r_ohm).max()
        s["max_nernst_stress_Pa"] = (
            float(overpotential.nernst_stress(peak)) if np.isfinite(peak) else np.nan
        )
    else:
        s["max_nernst_stress_Pa"] = np.nan
        warnings.append(
            "Nernst stress not computed: no current interrupt and no switch-on from rest to "
            "separate the bulk ohmic drop from the interfacial overpotential"
        )
    if len(interrupts):
        s["r_ohm_median"] = float(interrupts["r_ohm"].median())
        s["r_int_median"] = float(interrupts["r_int"].median())
    void = events[(events["kind"] == "void_onset") & (events["origin"] == "detector")]
    s["n_void_onsets"] = len(void)
    if len(void):
        v0 = void.iloc[0]
        s.update(
            {
                "void_onset_time": v0["time"],
                "void_onset_cycle": int(v0["cycle"]),
                "void_onset_confidence": v0["confidence"],
            }
        )
        for col, name in (
            ("v_capacity_C_m2", "void_onset_capacity_C_m2"),
            ("v_current_density_A_m2", "void_onset_j"),
            ("v_charge_C", "void_onset_charge_C"),
        ):
            if col in void:
                s[name] = v0[col]
    for kind in ("hard_short", "soft_short"):
        first = _first(events, kind)
        s[f"{kind}_time"] = float(first["time"]) if first is not None else np.nan
        s[f"{kind}_cycle"] = int(first["cycle"]) if first is not None else np.nan
    s["n_soft_shorts"] = int(
        ((events["kind"] == "soft_short") & (events["origin"] == "detector")).sum()
    )
    if ccd_result:
        if ccd_result["unit"] != "mean_j":
            warnings.append("electrode area unknown: the ccd_j_* columns are currents in A")
        s.update(
            {
                "ccd_j_crit": ccd_result["j_crit"],
                "ccd_j_last_pass": ccd_result["j_last_pass"],
                "ccd_failure_mode": ccd_result["failure_mode"],
                "ccd_j_soft_onset": ccd_result["j_soft_onset"],
            }
        )
    if "exponent" in growth_result:
        s["growth_exponent"] = growth_result["exponent"]
    if "spearman_rho" in growth_result:
        s["resistance_trend_rho"] = growth_result["spearman_rho"]
    if "pressure" in steps:
        s["pressure_mean_Pa"] = float(np.nanmean(steps["pressure"]))
        s["n_pressure_excursions"] = len(excursions)
        corr = pressure.overpotential_pressure_correlation(steps["eta_plateau"], steps["pressure"])
        s.update({f"eta_pressure_{k}": v for k, v in corr.items()})
    if imaging_result:
        s.update(_imaging_summary(imaging_result))
    s["n_warnings"] = len(warnings)
    return s
