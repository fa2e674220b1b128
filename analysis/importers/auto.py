"""``import_file``: any supported export -> RunData (format given or recognised from the file)."""

from __future__ import annotations

from pathlib import Path

from analysis.errors import AnalysisError
from analysis.model import RunData, make_run

FORMATS = ("biologic", "arbin", "neware", "maccor", "csv")


def detect_format(path: Path) -> str:
    """Recognise the export: .mpt is BioLogic, tables are matched on their column names."""
    from analysis.importers.eis import detect_spectrum_format

    if spectra := detect_spectrum_format(path):  # EIS exports: analysis.importers.eis
        raise AnalysisError(f"{path}: an impedance export ({spectra}); read it with "
                            "analysis.importers.eis.read_spectra")  # fmt: skip
    if path.suffix.lower() == ".mpt":
        return "biologic"
    from analysis.importers.cyclers import read_table, sniff_cycler

    table, _ = read_table(path)
    found = sniff_cycler(list(table.columns))
    if found is None:
        raise AnalysisError(
            f"{path}: unknown export format (columns: {', '.join(map(str, table.columns[:12]))}); "
            "give --format and, for generic CSV, --map 'time=COL:s,voltage=COL:V,current=COL:mA'"
        )
    return found


def import_file(
    path: str | Path,
    *,
    area_m2: float | None,
    fmt: str | None = None,
    column_map: str | None = None,
    invert_current: bool = False,
    sample: dict | None = None,
) -> RunData:
    """Read one export into a RunData in SI units and our sign convention."""
    path = Path(path)
    if not path.is_file():
        raise AnalysisError(f"{path}: no such file")
    if column_map and fmt is None:
        fmt = "csv"
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise AnalysisError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    facts: dict = {}
    if fmt == "biologic":
        from analysis.importers.biologic import read_mpt

        electro, facts = read_mpt(path, invert_current=invert_current)
    else:
        from analysis.importers.cyclers import MAPS, read_cycler
        from analysis.importers.table import parse_user_map

        if fmt == "csv":
            if not column_map:
                raise AnalysisError(
                    f"{path}: generic CSV needs --map 'time=COL:s,voltage=COL:V,current=COL:mA'"
                )
            cmap = parse_user_map(column_map)
        else:
            cmap = MAPS[fmt]
        electro = read_cycler(path, cmap, invert_current=invert_current)
    area = area_m2 or facts.get("area_m2")
    if not area:
        raise AnalysisError(
            f"{path}: the electrode area is unknown; give --area, e.g. --area '1 cm2'"
        )
    meta_sample = {**(sample or {}), "area_m2": float(area)}
    notes = f"imported from {path.name} ({fmt})" + (
        ", current sign inverted" if invert_current else ""
    )
    meta_sample.setdefault("notes", notes)
    run = make_run(
        {"electro": electro},
        metadata={"sample": meta_sample, "import": {"format": fmt, "file": str(path)}},
        source=str(path),
    )
    if len(run.electro) == 0:
        raise AnalysisError(f"{path}: no data rows")
    return run
