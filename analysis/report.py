"""Per-run HTML report: the result first, then figures, then tables (+ CSV files beside it).

Order: the headline (J_crit and failure mode for a CCD ramp, capacity and retention for a cell
with a cathode, CE for a Li|Cu run, void onset when one was seen), the convention used, a
methods paragraph generated from the protocol and the data, the figures, the warnings, and the
summary, CCD, cycle, step and event tables — all in display units (:mod:`analysis.display`).
The CSV files beside the report stay in SI, like the run file.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import pandas as pd

from analysis import fullcell, overpotential
from analysis.display import display_table, display_value, format_value
from analysis.figures import all_figures
from analysis.methods import methods_paragraph
from analysis.model import RunData
from analysis.pipeline import RunAnalysis

_CSS = (
    "body{font-family:sans-serif;margin:2em;max-width:1100px}"
    "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}"
    "th{background:#eee}.warn{color:#a40}img{max-width:100%}"
    ".headline{font-size:1.25em;background:#f4f7fb;border-left:4px solid #2a6;padding:.6em 1em}"
)
_TITLES = {
    "voltage": "Voltage and events",
    "cycles": "Per cycle",
    "void_onset": "Void onset",
    "ccd": "CCD staircase",
    "pressure": "Stack pressure",
    "kymograph": "Kymograph",
    "profiles": "Voltage profiles (first, middle, last cycle)",
    "dqdv": "Differential capacity dQ/dV",
    "pressure_soc": "Stack pressure vs state of charge",
}


def _fmt(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(format_value(value))


def _table(df: pd.DataFrame, max_rows: int = 40) -> str:
    """HTML table in display units of the first and last rows (the CSV has them all)."""
    if df.empty:
        return "<p>none</p>"
    shown = (
        df if len(df) <= max_rows else pd.concat([df.head(max_rows // 2), df.tail(max_rows // 2)])
    )
    shown, labels = display_table(shown)
    head = "".join(
        f"<th>{html.escape(str(c))}" + (f" ({html.escape(labels[c])})" if labels.get(c) else "")
        + "</th>"
        for c in shown.columns
    )  # fmt: skip
    rows = "".join(
        "<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in r) + "</tr>"
        for r in shown.itertuples(index=False)
    )
    note = (
        f"<p>{len(df)} rows; first and last {max_rows // 2} shown</p>" if len(df) > max_rows else ""
    )
    return f"{note}<table><tr>{head}</tr>{rows}</table>"


def _show(column: str, value: float) -> str:
    """One number with its display unit, e.g. '0.4 mA cm⁻²'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not reached"
    _name, shown, label = display_value(column, value)
    return f"{format_value(shown)} {label}".strip()


def _ccd_lines(result: dict) -> list[str]:
    """J_crit with its failure mode, the first soft short's J and the last level passed."""
    col = "ccd_j_crit" if result["unit"] == "mean_j" else "ccd_i_crit_A"

    def show(value: float) -> str:
        if math.isnan(value):
            return "not reached"
        return _show(col, value) + ("" if result["unit"] == "mean_j" else " (area unknown)")

    return [
        f"J_crit = {show(result['j_crit'])} (failure mode: {result['failure_mode']})",
        f"first soft short at J = {show(result['j_soft_onset'])}",
        f"last level passed: {show(result['j_last_pass'])}",
    ]


def headline(res: RunAnalysis) -> list[str]:
    """The results a reader came for, most important first (plain text lines)."""
    s = res.summary
    lines: list[str] = []
    if res.ccd:
        lines += _ccd_lines(res.ccd)
    if s.get("cell_type") == "cathode" and "capacity_discharge_first_C" in s:
        n = int((res.cycles["complete"]).sum())
        lines.append(
            f"discharge capacity {_show('capacity_discharge_first_C', s['capacity_discharge_first_C'])}"
            f" (first complete cycle) → {_show('capacity_discharge_last_C', s['capacity_discharge_last_C'])}"
            f" after {n} complete cycles: retention {_show('capacity_retention', s['capacity_retention'])}"
        )
        lines.append(
            f"CE (discharge/charge) mean {_show('ce_mean', s['ce_mean'])}, first cycle "
            f"{_show('ce_first', s['ce_first'])}; energy efficiency "
            f"{_show('energy_efficiency_mean', s['energy_efficiency_mean'])}; polarization "
            f"{_show('polarization_median_V', s['polarization_median_V'])}"
        )
    elif "ce_mean" in s and s.get("cell_type") == "li_cu":
        loss = (
            f", Li inventory lost {_show('li_loss_m', s['li_loss_m'])}" if "li_loss_m" in s else ""
        )
        lines.append(
            f"CE (strip/plate) mean {_show('ce_mean', s['ce_mean'])}, cumulative "
            f"{_show('ce_cumulative', s['ce_cumulative'])} over {s.get('n_cycles', 0)} cycles{loss}"
        )
        if "ce_reservoir" in s:
            lines.append(f"reservoir-method CE {_show('ce_reservoir', s['ce_reservoir'])}")
    if s.get("n_void_onsets"):
        lines.append(
            f"void onset at t = {_show('void_onset_time', s['void_onset_time'])} "
            f"(cycle {s['void_onset_cycle']}, confidence {s['void_onset_confidence']:.2f})"
            + (
                f", after {_show('void_onset_capacity_C_m2', s['void_onset_capacity_C_m2'])}"
                if "void_onset_capacity_C_m2" in s
                else ""
            )
        )
    elif s.get("cell_type") != "cathode" and "n_void_onsets" in s:
        lines.append("no void onset detected")
    if s.get("cell_type") in ("li_li", "li_metal") and "eta_plate_median" in s:
        lines.insert(
            len(_ccd_lines(res.ccd)) if res.ccd else 0,  # after the CCD result, before voids
            f"plateau overpotential plating {_show('eta_plate_median', s['eta_plate_median'])}, "
            f"stripping {_show('eta_strip_median', s['eta_strip_median'])}; ASR "
            f"{_show('asr_plate_median', s['asr_plate_median'])} over {s.get('n_cycles', 0)} "
            "cycles",
        )
    return lines or ["no cycle completed"]


def _convention(res: RunAnalysis) -> str:
    s = res.summary
    if "cell_type" not in s:
        return ""
    return (
        f"<p>Cell: <b>{html.escape(str(s['cell_type']))}</b> "
        f"({html.escape(str(s['cell_type_reason']))}). {html.escape(str(s['ce_convention']))}. "
        "Units: display units (SI in the CSV files and the run file).</p>"
    )


def _rate_capability(res: RunAnalysis) -> str:
    """The rate-capability table of a cathode run cycled at more than one C-rate."""
    nominal = res.summary.get("nominal_capacity_C")
    if not nominal or "c_rate" not in res.cycles or res.cycles["c_rate"].nunique() < 2:
        return ""
    table = fullcell.rate_table(res.cycles, res.steps, nominal)
    return "<h2>Rate capability</h2>" + _table(table)


def _summary_rows(summary: dict) -> str:
    rows = []
    for key, value in summary.items():
        name, shown, label = display_value(key, value)
        rows.append(
            f"<tr><th>{html.escape(name)}</th><td>{_fmt(shown)}</td><td>{html.escape(label)}</td></tr>"
        )
    return "".join(rows)


def write_report(run: RunData, res: RunAnalysis, folder: Path) -> Path:
    """Write report.html, figures and steps/cycles/events CSVs into ``folder``; return the HTML path."""
    folder.mkdir(parents=True, exist_ok=True)
    figs = all_figures(run, res, folder / "figures")
    for name, df in (
        ("steps", res.steps),
        ("cycles", res.cycles),
        ("events", res.events),
        ("interrupts", res.interrupts),
    ):
        df.to_csv(folder / f"{name}.csv", index=False)
    top = "".join(f"<li>{html.escape(line)}</li>" for line in headline(res))
    warnings = (
        "".join(f"<li class='warn'>{html.escape(w)}</li>" for w in res.warnings) or "<li>none</li>"
    )
    figures = "".join(
        f"<h3>{_TITLES[name]}</h3><img src='figures/{path.name}' alt='{name}'>"
        for name, path in figs.items()
    )
    ccd = ""
    if res.ccd:
        levels = pd.DataFrame(res.ccd["levels"])
        if res.ccd["unit"] != "mean_j":  # area unknown: the levels are currents
            levels = levels.rename(columns={"j": "mean_current"})
        ccd = "<h2>CCD levels</h2>" + _table(levels)
    if not res.steps.empty and "eta_plateau" in res.steps:
        ccd += "<h2>Overpotential against current density</h2>"
        ccd += _table(overpotential.by_current_density(res.steps))
    from analysis.impedance_report import impedance_section

    ccd += impedance_section(run, folder, events=res.events)
    events = res.events.drop(columns=[c for c in res.events.columns if c.startswith("v_")])
    body = (
        f"<h1>Run report</h1><p>{html.escape(res.source)}</p>"
        f"<div class='headline'><ul>{top}</ul></div>{_convention(res)}"
        f"<h2>Methods</h2><p>{html.escape(methods_paragraph(run, res))}</p>"
        f"<h2>Figures</h2>{figures}<h2>Warnings</h2><ul>{warnings}</ul>"
        f"<h2>Summary</h2><table>{_summary_rows(res.summary)}</table>{ccd}"
        f"{_rate_capability(res)}<h2>Cycles</h2>{_table(res.cycles)}<h2>Steps</h2>"
        f"{_table(res.steps.drop(columns=['start_row', 'end_row'], errors='ignore'))}"
        f"<h2>Events</h2>{_table(events)}"
    )
    out = folder / "report.html"
    out.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>ssbench report</title><style>{_CSS}</style></head><body>{body}</body></html>",
        encoding="utf-8",
    )
    return out
