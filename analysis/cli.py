"""``ssbench analyze`` and ``ssbench import`` (argparse only at import time; work in handlers)."""

from __future__ import annotations

import argparse

#: --cycle-start words -> the step polarity a cycle starts with (analysis.segment).
CYCLE_STARTS = {"charge": "strip", "discharge": "plate", "strip": "strip", "plate": "plate",
                "first": "first"}  # fmt: skip
CELLS = ("cathode", "li_li", "li_cu")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the analysis subcommands (hook used by daq.cli)."""
    add_analyze_parser(subparsers)
    add_import_parser(subparsers)
    add_export_parser(subparsers)


def _formats() -> tuple[str, ...]:
    from analysis.importers.auto import FORMATS

    return (*FORMATS, "biologic")


def add_analyze_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """``ssbench analyze PATH... [-o DIR] [--jobs N] [--scheduler ADDR]``."""
    p = subparsers.add_parser(
        "analyze",
        help="re-analyse runs (HDF5 or cycler exports) into tables, metrics, figures and reports",
        description="Analyse run files and folders (searched recursively for .h5/.hdf5 and "
        "cycler exports: .mpt .csv .txt .xlsx .parquet) in parallel; writes summary.csv, "
        "summary.parquet and runs/<name>/report.html in display units (mA cm⁻², mAh, Ω cm², µm, "
        "MPa, °C, %; the unit is in each column name), or SI with --si.",
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
        choices=_formats(),
        help="export format of non-HDF5 inputs (default: recognised from each file)",
    )
    p.add_argument(
        "--map",
        help="generic CSV column map: 'time=COL:s,voltage=COL:V,current=COL:mA[,step=COL]"
        "[,cycle=COL]' (time=COL:clock for h:mm:ss, time=COL:datetime for date-times; implies "
        "--format csv)",
    )
    p.add_argument(
        "--cell",
        choices=CELLS,
        help="cell kind (default: from the sample description, else the voltage window): "
        "cathode = capacity, CE = discharge/charge; li_li, li_cu = plating/stripping metrics",
    )
    p.add_argument(
        "--cycle-start",
        choices=tuple(CYCLE_STARTS),
        help="polarity a derived cycle starts with (default: charge for cathode cells, plate "
        "for Li|Cu, the protocol's first step for Li|Li)",
    )
    p.add_argument("--si", action="store_true", help="summary and tables in SI units")
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
        help="convert cycler exports (BioLogic, Arbin, Neware, Maccor, BDF, CSV) into run files",
        description="Read a cycler export (format and encoding recognised) into SI units and "
        "ssbench's sign convention (I > 0 strips the working electrode) and write an HDF5 run "
        "file; a folder of exports becomes a folder of run files.",
    )
    p.add_argument("file", help="export file (.mpt, .csv, .txt, .xlsx, .parquet) or a folder")
    p.add_argument(
        "-o", "--output", required=True, help="run file to write (.h5), or a folder for a folder"
    )
    p.add_argument("--area", help="electrode area, e.g. '1 cm2' (BioLogic headers may give it)")
    p.add_argument("--format", choices=_formats(), help="default: recognised from the file")
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
    options = AnalysisOptions(
        ocv=args.ocv,
        strip_sign=args.strip_sign,
        cell=args.cell,
        cycle_start=CYCLE_STARTS[args.cycle_start] if args.cycle_start else None,
    )
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
        si=args.si,
    )
    bad = table[table["status"] != "ok"]
    for row in table[table["status"] == "ok"].itertuples(index=False):
        print(f"  {row.file}: {row.headline}")
    print(
        f"analysed {len(table) - len(bad)}/{len(table)} run(s); summary: {args.out}/summary.csv, summary.parquet"
    )
    for row in bad.itertuples(index=False):
        print(f"  failed: {row.file}: {row.error}")
    return 1 if len(bad) else 0


def _import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from analysis.errors import AnalysisError
    from analysis.importers.auto import EXPORT_SUFFIXES, collect_exports

    source, target = Path(args.file), Path(args.output)
    if not source.is_dir():
        _import_one(args, source, target)
        return 0
    if target.suffix.lower() in (".h5", ".hdf5"):
        raise AnalysisError(
            f"{source}: a folder of exports needs -o FOLDER (one run file per export), not {target}"
        )
    files = collect_exports(source)
    if not files:
        raise AnalysisError(f"{source}: no exports in the folder ({', '.join(EXPORT_SUFFIXES)})")
    failed = 0
    for f in files:
        try:
            _import_one(args, f, target / f.relative_to(source).with_suffix(".h5"))
        except AnalysisError as exc:
            failed += 1
            print(f"  failed: {exc}")
    print(f"imported {len(files) - failed}/{len(files)} export(s) into {target}")
    return 1 if failed else 0


def _import_one(args: argparse.Namespace, source, target) -> None:
    from analysis.export import write_run
    from analysis.importers.auto import import_file

    sample = {"electrolyte": args.electrolyte} if args.electrolyte else None
    run = import_file(
        source,
        area_m2=_area(args.area),
        fmt=args.format,
        column_map=args.map,
        invert_current=args.invert_current,
        sample=sample,
    )
    for w in run.warnings:
        print(f"warning: {w}")
    out = write_run(run, target, overwrite=args.overwrite)
    e = run.electro
    print(f"wrote {out}: {len(e)} samples, t = {e['time'].iat[0]:.6g} … {e['time'].iat[-1]:.6g} s")


def add_export_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """``ssbench export RUN --format bdf|bdf-parquet|tables-csv|tables-xlsx [-o OUT]``."""
    p = subparsers.add_parser(
        "export",
        help="write a run in an open format: Battery Data Format (CSV/Parquet), step and "
        "cycle tables (CSV/Excel)",
        description="Export a run file (or any importable export) as the Battery Data Format "
        "of the Battery Data Alliance ('Test Time / s', 'Voltage / V', 'Current / A', …) with "
        "its sample and protocol in a .metadata.json beside it, or its step and cycle tables "
        "in display units (SI with --si).",
    )
    p.add_argument("run", help="run file (.h5) or export")
    p.add_argument(
        "--format",
        choices=("bdf", "bdf-parquet", "tables-csv", "tables-xlsx"),
        default="bdf",
        help="default: bdf (CSV)",
    )
    p.add_argument("-o", "--output", help="output file (default: next to the run)")
    p.add_argument("--area", help="electrode area for exports that do not state it")
    p.add_argument("--si", action="store_true", help="tables in SI units")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.set_defaults(handler=_export)
    return p


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from analysis.export import default_output, export_run
    from analysis.load import load_run

    run = load_run(args.run, area_m2=_area(args.area))
    out = Path(args.output) if args.output else default_output(Path(args.run), args.format)
    for path in export_run(run, out, args.format, si=args.si, overwrite=args.overwrite):
        print(f"wrote {path}")
    return 0
