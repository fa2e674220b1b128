"""Write a RunData: as our HDF5 run file (daq.runfile.RunWriter), as the Battery Data Format,
or as its step and cycle tables (``ssbench export``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.model import RunData


def write_run(run: RunData, path: str | Path, *, overwrite: bool = False) -> Path:
    """Store every stream (with units), the sample metadata and the events; return the path."""
    from daq.runfile import RunWriter

    spec = {
        name: {c: (df.attrs.get("units") or {}).get(c, "") for c in df.columns}
        for name, df in run.streams.items()
    }
    for name, fields in spec.items():
        fields["time"] = "s"
        if name == "electro" and "current_density" in fields:
            fields["current_density"] = "A/m2"
    sample = run.metadata.get("sample") or {}
    with RunWriter(
        path,
        spec,
        sample=sample,
        # what the instrument recorded about the test (e.g. Arbin's metadata file) beside the import
        station={k: run.metadata[k] for k in ("import", "arbin") if k in run.metadata},
        overwrite=overwrite,
    ) as writer:
        for name, df in run.streams.items():
            writer.append(name, {c: df[c].to_numpy() for c in df.columns})
        for ev in run.events.itertuples(index=False):
            step = -1 if ev.step is None or ev.step != ev.step else int(ev.step)
            writer.event(float(ev.time), str(ev.kind), str(ev.message), step, ev.data)
    return Path(path)


#: Output suffix per export format.
_SUFFIXES = {
    "bdf": ".bdf.csv",
    "bdf-parquet": ".bdf.parquet",
    "tables-csv": "_cycles.csv",
    "tables-xlsx": "_tables.xlsx",
}


def default_output(run_path: Path, fmt: str) -> Path:
    """``cell.h5`` -> ``cell.bdf.csv`` / ``cell.bdf.parquet`` / ``cell_cycles.csv`` / …"""
    return run_path.with_name(run_path.stem + _SUFFIXES[fmt])


def export_run(
    run: RunData, out: Path, fmt: str, *, si: bool = False, overwrite: bool = False
) -> list[Path]:
    """Write ``run`` as BDF (CSV or Parquet, with its metadata sidecar) or as its step and
    cycle tables (CSV pair or one Excel workbook); return the files written."""
    from analysis.bdf import write_bdf
    from analysis.errors import AnalysisError
    from analysis.pipeline import analyze_run

    res = analyze_run(run)
    if fmt in ("bdf", "bdf-parquet"):
        return list(write_bdf(run, out, steps=res.steps, overwrite=overwrite))
    tables = {"steps": _shown(res.steps, si), "cycles": _shown(res.cycles, si)}
    if fmt == "tables-xlsx":
        if out.exists() and not overwrite:
            raise AnalysisError(f"{out}: already exists (give --overwrite to replace it)")
        with pd.ExcelWriter(out) as xl:
            for name, table in tables.items():
                table.to_excel(xl, sheet_name=name, index=False)
        return [out]
    stem = out.name.removesuffix("_cycles.csv").removesuffix(".csv")
    paths = [out.with_name(f"{stem}_{name}.csv") for name in tables]
    for path, table in zip(paths, tables.values(), strict=True):
        if path.exists() and not overwrite:
            raise AnalysisError(f"{path}: already exists (give --overwrite to replace it)")
        table.to_csv(path, index=False)
    return paths


def _shown(table: pd.DataFrame, si: bool) -> pd.DataFrame:
    """A step or cycle table for people: display units (or SI), no internal row indices."""
    from analysis.display import display_table

    table = table.drop(columns=["start_row", "end_row"], errors="ignore")
    return table if si else display_table(table)[0]
