"""``ssbench analyze`` and ``ssbench import`` (argparse only at import time; work in handlers)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add both analysis subcommands (hook used by daq.cli)."""
    add_analyze_parser(subparsers)
    add_import_parser(subparsers)


def add_analyze_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """``ssbench analyze PATH... [-o DIR] [--jobs N] [--scheduler ADDR]``."""
    p = subparsers.add_parser(
        "analyze",
        help="re-analyse runs (HDF5 or cycler exports) into tables, metrics, figures and reports",
        description="Analyse run files and folders (searched recursively for .h5/.hdf5/.mpt) in "
        "parallel; writes summary.csv, summary.parquet and runs/<name>/report.html.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="run files or folders")
    p.add_argument(
        "-o", "--out", default="ssbench-out", help="output folder (default: ssbench-out)"
    )
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    p.add_argument(
        "--scheduler", metavar="ADDR", help="Dask scheduler address, e.g. tcp://host:8786"
    )
    p.add_argument("--no-report", action="store_true", help="summary table only, no per-run HTML")
    p.add_argument("--area", help="electrode area for exports that do not state it, e.g. '1 cm2'")
    p.add_argument(
        "--format",
        choices=("biologic", "arbin", "neware", "maccor", "csv"),
        help="export format of non-HDF5 inputs (default: recognised from each file)",
    )
    p.add_argument(
        "--map",
        help="generic CSV column map: 'time=COL:s,voltage=COL:V,current=COL:mA[,step=COL]"
        "[,cycle=COL]' (implies --format csv)",
    )
    p.add_argument(
        "--ocv",
        choices=("zero", "rest"),
        default="zero",
        help="overpotential reference (default: zero, Li-referenced cells)",
    )
    p.add_argument(
        "--strip-sign",
        type=int,
        choices=(-1, 0, 1),
        default=None,
        help="void watch: +1 WE stripping, -1 CE, 0 both (default: from the cell: -1 for "
        "anode-free Li|Cu, else 0)",
    )
    p.set_defaults(handler=_analyze)
    return p


def add_import_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """``ssbench import FILE --area "1 cm2" [--format ...] [--map ...] -o RUN.h5``."""
    p = subparsers.add_parser(
        "import",
        help="convert a cycler export (BioLogic .mpt, Arbin, Neware, Maccor, CSV) into a run file",
        description="Read a cycler export into SI units and ssbench's sign convention (I > 0 strips "
        "the working electrode) and write an HDF5 run file.",
    )
    p.add_argument("file", help="export file (.mpt, .csv, .txt, .xlsx)")
    p.add_argument("-o", "--output", required=True, help="run file to write (.h5)")
    p.add_argument("--area", help="electrode area, e.g. '1 cm2' (BioLogic headers may give it)")
    p.add_argument(
        "--format",
        choices=("biologic", "arbin", "neware", "maccor", "csv"),
        help="default: recognised from the file",
    )
    p.add_argument(
        "--map",
        help="generic CSV column map: 'time=COL:s,voltage=COL:V,current=COL:mA[,step=COL][,cycle=COL]'",
    )
    p.add_argument(
        "--invert-current", action="store_true", help="the file uses the opposite current sign"
    )
    p.add_argument("--electrolyte", help="sample electrolyte, stored in the run metadata")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(handler=_import)
    return p


def _area(text: str | None) -> float | None:
    from daq.units import parse_quantity

    return parse_quantity(text, "area", "--area") if text else None


def _analyze(args: argparse.Namespace) -> int:
    from analysis.batch import run_batch
    from analysis.pipeline import AnalysisOptions

    if args.map:  # refuse a bad map once, before any file is read
        from analysis.importers.table import parse_user_map

        parse_user_map(args.map)
    options = AnalysisOptions(ocv=args.ocv, strip_sign=args.strip_sign)
    table = run_batch(
        args.paths,
        args.out,
        jobs=args.jobs,
        scheduler=args.scheduler,
        report=not args.no_report,
        area_m2=_area(args.area),
        fmt=args.format,
        column_map=args.map,
        options=options,
    )
    bad = table[table["status"] != "ok"]
    print(
        f"analysed {len(table) - len(bad)}/{len(table)} run(s); summary: {args.out}/summary.csv, summary.parquet"
    )
    for row in bad.itertuples(index=False):
        print(f"  failed: {row.file}: {row.error}")
    return 1 if len(bad) else 0


def _import(args: argparse.Namespace) -> int:
    from analysis.export import write_run
    from analysis.importers.auto import import_file

    sample = {"electrolyte": args.electrolyte} if args.electrolyte else None
    run = import_file(
        args.file,
        area_m2=_area(args.area),
        fmt=args.format,
        column_map=args.map,
        invert_current=args.invert_current,
        sample=sample,
    )
    for w in run.warnings:
        print(f"warning: {w}")
    out = write_run(run, args.output, overwrite=args.overwrite)
    e = run.electro
    print(f"wrote {out}: {len(e)} samples, t = {e['time'].iat[0]:.6g} … {e['time'].iat[-1]:.6g} s")
    return 0
