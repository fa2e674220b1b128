"""Per-run HTML report: summary, warnings, figures, cycle/step/event tables (+ CSV files)."""

from __future__ import annotations

import html
import math
from pathlib import Path

import pandas as pd

from analysis import overpotential
from analysis.columns import unit_of
from analysis.figures import all_figures
from analysis.model import RunData
from analysis.pipeline import RunAnalysis

_CSS = (
    "body{font-family:sans-serif;margin:2em;max-width:1100px}"
    "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}"
    "th{background:#eee}.warn{color:#a40}img{max-width:100%}"
)
_TITLES = {
    "voltage": "Voltage and events",
    "cycles": "Overpotential and CE per cycle",
    "void_onset": "Void onset",
    "ccd": "CCD staircase",
    "pressure": "Stack pressure",
    "kymograph": "Kymograph",
}


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return html.escape(str(value))


def _table(df: pd.DataFrame, max_rows: int = 40) -> str:
    """HTML table of the first and last rows (the CSV next to the report has them all)."""
    if df.empty:
        return "<p>none</p>"
    shown = (
        df if len(df) <= max_rows else pd.concat([df.head(max_rows // 2), df.tail(max_rows // 2)])
    )
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in r) + "</tr>"
        for r in shown.itertuples(index=False)
    )
    note = (
        f"<p>{len(df)} rows; first and last {max_rows // 2} shown</p>" if len(df) > max_rows else ""
    )
    return f"{note}<table><tr>{head}</tr>{rows}</table>"


def _ccd_lines(result: dict) -> str:
    """J_crit (failure), the first soft short's J and the last level passed, in both units."""
    unit = result["unit"]

    def show(value: float) -> str:
        if math.isnan(value):
            return "not reached"
        if unit == "mean_j":
            return f"{value:.4g} A/m² ({value / 10:.4g} mA/cm²)"
        return f"{value:.4g} A (area unknown)"

    rows = (
        (f"J_crit ({result['failure_mode']})", result["j_crit"]),
        ("first soft short at J", result["j_soft_onset"]),
        ("last level passed", result["j_last_pass"]),
    )
    return "<ul>" + "".join(f"<li>{html.escape(k)}: {show(v)}</li>" for k, v in rows) + "</ul>"


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
    summary = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{_fmt(v)}</td><td>{html.escape(unit_of(k))}</td></tr>"
        for k, v in res.summary.items()
    )
    warnings = (
        "".join(f"<li class='warn'>{html.escape(w)}</li>" for w in res.warnings) or "<li>none</li>"
    )
    figures = "".join(
        f"<h3>{_TITLES[name]}</h3><img src='figures/{path.name}' alt='{name}'>"
        for name, path in figs.items()
    )
    ccd = ""
    if res.ccd:
        ccd = "<h2>CCD</h2>" + _ccd_lines(res.ccd) + _table(pd.DataFrame(res.ccd["levels"]))
    if not res.steps.empty:
        ccd += "<h2>Overpotential against current density (SI: A/m², V, Ω m²)</h2>"
        ccd += _table(overpotential.by_current_density(res.steps))
    from analysis.impedance_report import impedance_section

    ccd += impedance_section(run, folder, events=res.events)
    body = (
        f"<h1>Run report</h1><p>{html.escape(res.source)}</p>"
        f"<h2>Summary</h2><table>{summary}</table><h2>Warnings</h2><ul>{warnings}</ul>"
        f"<h2>Figures</h2>{figures}{ccd}"
        f"<h2>Events</h2>{_table(res.events.drop(columns=[c for c in res.events.columns if c.startswith('v_')]))}"
        f"<h2>Cycles</h2>{_table(res.cycles)}<h2>Steps</h2>"
        f"{_table(res.steps.drop(columns=['start_row', 'end_row'], errors='ignore'))}"
    )
    out = folder / "report.html"
    out.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>ssbench report</title><style>{_CSS}</style></head><body>{body}</body></html>",
        encoding="utf-8",
    )
    return out
