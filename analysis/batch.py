"""Batch re-analysis of files and folders, in parallel processes or on a Dask cluster.

Each run is loaded, analysed and (optionally) reported in a worker; the workers return the
summary rows, which become ``summary.csv`` and ``summary.parquet``. A run that fails yields a
row with ``status = "error"`` and the message — one bad file never stops the batch.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.columns import tidy, units_table
from analysis.display import display_table
from analysis.errors import AnalysisError
from analysis.pipeline import AnalysisOptions


@dataclass
class BatchJob:
    """One run to analyse and where its report goes."""

    path: Path
    report_dir: Path | None
    area_m2: float | None
    fmt: str | None
    options: AnalysisOptions
    column_map: str | None = None


def collect(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly plus run files and cycler exports found recursively in folders
    (sorted, no duplicates)."""
    from analysis.importers.auto import collect_exports

    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += collect_exports(p, run_files=True)
        elif p.is_file():
            found.append(p)
        else:
            raise AnalysisError(f"{p}: no such file or folder")
    seen: set[Path] = set()
    return [f for f in found if not (f.resolve() in seen or seen.add(f.resolve()))]


def _report_dirs(files: list[Path], out: Path) -> list[Path]:
    """out/runs/<stem>, with a numeric suffix when two runs share a stem."""
    used: dict[str, int] = {}
    dirs = []
    for f in files:
        n = used.get(f.stem, 0)
        used[f.stem] = n + 1
        dirs.append(out / "runs" / (f.stem if n == 0 else f"{f.stem}-{n}"))
    return dirs


def analyze_one(job: BatchJob) -> dict[str, Any]:
    """Worker: load, analyse, report one run; errors become a row, never an exception."""
    from analysis.load import load_run
    from analysis.pipeline import analyze_run

    try:
        run = load_run(job.path, area_m2=job.area_m2, fmt=job.fmt, column_map=job.column_map)
        res = analyze_run(run, job.options)
        from analysis.report import headline

        row = {"file": str(job.path), "status": "ok", "error": "", **res.summary}
        row["headline"] = "; ".join(headline(res))
        if job.report_dir is not None:
            from analysis.report import write_report

            row["report"] = str(write_report(run, res, job.report_dir))
        return row
    except (AnalysisError, OSError, ValueError, KeyError) as exc:
        return {"file": str(job.path), "status": "error", "error": f"{type(exc).__name__}: {exc}"}


def run_batch(
    paths: Iterable[str | Path],
    out: str | Path,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    report: bool = True,
    area_m2: float | None = None,
    fmt: str | None = None,
    column_map: str | None = None,
    options: AnalysisOptions | None = None,
    si: bool = False,
) -> pd.DataFrame:
    """Analyse every run; write summary.csv/.parquet and summary_units.csv (each column's unit)
    in ``out``, in display units with the unit in each column name (SI with ``si``); return the
    SI summary table (counts as integers, float noise rounded)."""
    from analysis.importers.auto import EXPORT_SUFFIXES

    files = collect(paths)
    if not files:
        raise AnalysisError(
            "no run files found (folders are searched for .h5, .hdf5 and exports: "
            + ", ".join(EXPORT_SUFFIXES)
            + ")"
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dirs = _report_dirs(files, out) if report else [None] * len(files)
    opt = options or AnalysisOptions()
    batch = [
        BatchJob(f, d, area_m2, fmt, opt, column_map) for f, d in zip(files, dirs, strict=True)
    ]
    if scheduler:
        rows = _on_dask(batch, scheduler)
    else:
        workers = max(1, min(jobs or os.cpu_count() or 1, len(batch)))
        if workers == 1:
            rows = [analyze_one(j) for j in batch]
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                rows = list(
                    pool.map(analyze_one, batch, chunksize=max(1, len(batch) // (4 * workers)))
                )
    table = tidy(pd.DataFrame(rows))
    if si:
        shown, units = table, units_table(list(table.columns))
    else:
        shown, labels = display_table(table)
        units = pd.DataFrame({"column": list(labels), "unit": list(labels.values())})
    shown.to_csv(out / "summary.csv", index=False)
    units.to_csv(out / "summary_units.csv", index=False)
    safe = _parquet_safe(shown)
    safe.attrs["units"] = dict(zip(units["column"], units["unit"], strict=True))
    safe.to_parquet(out / "summary.parquet", index=False)
    return table


def _parquet_safe(table: pd.DataFrame) -> pd.DataFrame:
    """Object columns mixing types (e.g. None and text) as strings, so pyarrow accepts them."""
    fixed = table.copy()
    for col in fixed.columns:
        if fixed[col].dtype == object:
            fixed[col] = fixed[col].map(lambda v: None if v is None or v != v else str(v))
    return fixed


def _on_dask(batch: list[BatchJob], address: str) -> list[dict[str, Any]]:
    """Run the jobs on the Dask cluster at ``address`` (needs dask.distributed installed)."""
    try:
        from distributed import Client
    except ImportError:
        raise AnalysisError(
            "--scheduler needs Dask, which is not installed: pip install 'dask[distributed]'"
        ) from None
    try:
        client = Client(address, timeout=10)
    except OSError as exc:
        raise AnalysisError(f"cannot reach the Dask scheduler at {address!r} ({exc})") from None
    with client:
        return client.gather(client.map(analyze_one, batch, pure=False))
