"""``ssbench eis``: impedance spectra (run files or BioLogic / Gamry / CSV exports) -> fits,
a table against time / cycle / pressure, DRT peaks, and Nyquist / Bode / DRT figures."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``eis`` subcommand (hook used by daq.cli)."""
    p = subparsers.add_parser(
        "eis",
        help="fit impedance spectra and tabulate R_bulk / R_interface (run files or exports)",
        description="Read every sweep of the given files (ssbench .h5 runs with an impedance "
        "stream, BioLogic PEIS/GEIS .mpt, Gamry .DTA, or CSV with --map), check each with "
        "lin-KK, fit the circuit and write impedance.csv and figures into --out.",
    )
    p.add_argument("paths", nargs="+", metavar="FILE", help="run files or EIS exports")
    p.add_argument(
        "-o", "--out", default="ssbench-eis", help="output folder (default: ssbench-eis)"
    )
    p.add_argument("--area", help="electrode area, e.g. '1 cm2' (default: the run's sample area)")
    p.add_argument(
        "--circuit", help="circuit string, e.g. 'R0-p(R1,CPE1)-W1' (default: R0-p(R1,CPE1))"
    )
    p.add_argument("--format", choices=("biologic_eis", "gamry", "csv"), help="export format")
    p.add_argument("--map", help="CSV map 'frequency=COL:Hz,z_real=COL:ohm,-z_imag=COL:ohm'")
    p.add_argument("--asymmetric", action="store_true",
                   help="the cell is not symmetric: R_interface is not split between two interfaces")  # fmt: skip
    p.set_defaults(handler=_eis)


def _records(path: str, args: argparse.Namespace):
    from pathlib import Path

    from analysis.importers.eis import read_spectra

    if Path(path).suffix.lower() in (".h5", ".hdf5"):
        from analysis.impedance_report import sweeps_of
        from analysis.load import load_run

        run = load_run(path)
        return sweeps_of(run), (run.metadata.get("sample") or {}).get("area_m2")
    return read_spectra(path, args.format, args.map), None


def _eis(args: argparse.Namespace) -> int:
    from pathlib import Path

    from analysis.errors import AnalysisError
    from analysis.impedance_report import drt_figure, interface_figure, spectra_figure
    from analysis.impedance_table import drt_peaks_table, impedance_table, interface_rises
    from daq.units import parse_quantity

    out = Path(args.out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    area = parse_quantity(args.area, "area", "--area") if args.area else None
    records, found_area = [], None
    for path in args.paths:
        found, run_area = _records(path, args)
        records += found
        found_area = found_area or run_area
    area = area or found_area
    if not records:
        raise AnalysisError(f"{', '.join(args.paths)}: no impedance sweeps found")
    if area is None:
        raise AnalysisError("no electrode area: give --area, e.g. --area '1 cm2'")
    table = impedance_table(records, area, args.circuit, symmetric=not args.asymmetric)
    table.to_csv(out / "impedance.csv", index=False)
    spectra_figure(records, out / "figures" / "spectra.png", args.circuit)
    interface_figure(table, out / "figures" / "r_interface.png")
    for row in table.itertuples():
        state = "SHORTED" if row.shorted else f"R_bulk {row.r_bulk_ohm:.4g} ohm, R_int {row.r_interface_ohm:.4g} ohm"  # fmt: skip
        print(f"sweep {row.sweep}: {state}")
    peaks = drt_peaks_table(records)
    peaks.to_csv(out / "drt_peaks.csv", index=False)
    drt_figure(records, out / "figures" / "drt.png")
    if "tau_s" in peaks:
        print("DRT peaks:")
        print(f"{'sweep':>7} {'peak':>5} {'tau (s)':>11} {'f (Hz)':>11} {'R (ohm)':>10}")
        for peak in peaks.dropna(subset=["tau_s"]).itertuples():
            where = "  (outside the measured range)" if peak.outside else ""
            print(f"{peak.sweep:>7g} {peak.peak:>5g} {peak.tau_s:>11.4g} {peak.frequency_Hz:>11.4g} "
                  f"{peak.r_ohm:>10.4g}{where}")  # fmt: skip
    for rise in interface_rises(table):
        print(rise.message)
    for note in table.get("note", []):
        if note:
            print(f"warning: {note}")
    print(f"{len(records)} sweep(s): {out / 'impedance.csv'}, {out / 'drt_peaks.csv'}, "
          f"figures in {out / 'figures'}")  # fmt: skip
    return 0
