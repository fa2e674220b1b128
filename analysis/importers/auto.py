"""``import_file``: any supported export -> RunData (format given or recognised from the file).

Formats live in :data:`IMPORTERS`, a registry of (name, recognise, read): a new instrument adds
one :class:`Importer` with :func:`register` and every command (``import``, ``analyze``) knows it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.errors import AnalysisError
from analysis.model import RunData, make_run

#: Suffixes of exports collected from folders (``analyze FOLDER``, ``import FOLDER``).
EXPORT_SUFFIXES = [".mpt", ".csv", ".txt", ".tsv", ".xlsx", ".xls", ".parquet"]


@dataclass(frozen=True)
class Importer:
    """One export format: ``recognise(path)`` says whether it wrote the file (cheap: reads the
    head only); ``read(path, invert_current)`` returns the electro stream and header facts."""

    name: str
    recognise: Callable[[Path], bool]
    read: Callable[..., tuple[pd.DataFrame, dict]]
    by_columns: bool = False


IMPORTERS: dict[str, Importer] = {}


def register(importer: Importer, suffixes: tuple[str, ...] = ()) -> None:
    """Add a format to the registry (and its suffixes to those collected from folders)."""
    IMPORTERS[importer.name] = importer
    EXPORT_SUFFIXES.extend(s for s in suffixes if s not in EXPORT_SUFFIXES)


def _table_format(path: Path) -> str | None:
    """Which instrument wrote a text/Excel/Parquet table (from its column names)."""
    from analysis.importers.cyclers import pick_table, read_tables

    return pick_table(path, read_tables(path))[1]


def _cycler(name: str) -> Importer:
    def recognise(path: Path) -> bool:
        return _table_format(path) == name

    def read(path: Path, invert_current: bool = False) -> tuple[pd.DataFrame, dict]:
        from analysis.importers.arbin_metadata import read_metadata
        from analysis.importers.cyclers import MAPS, read_cycler

        electro = read_cycler(path, MAPS[name], invert_current=invert_current)
        beside = read_metadata(path) if name == "arbin" else {}
        return electro, ({"metadata": {"arbin": beside}} if beside else {})

    return Importer(name, recognise, read, by_columns=True)


def _builtin() -> None:
    from analysis import bdf
    from analysis.importers import biologic, eis

    register(Importer("impedance", eis.is_spectrum_file, eis.refuse_as_run))  # before EC-Lab
    register(Importer("biologic-mpt", biologic.is_mpt, biologic.read_mpt))
    register(Importer("bdf", bdf.is_bdf, bdf.read_bdf))
    for name in ("arbin", "maccor", "neware", "biologic"):
        register(_cycler(name))


_builtin()
#: Names accepted by --format (``csv`` = generic table through --map).
FORMATS = tuple(IMPORTERS) + ("csv",)


def detect_format(path: Path) -> str:
    """Recognise the export: a format with its own signature (EC-Lab header, BDF labels, …),
    else the instrument whose column names the table has."""
    for imp in IMPORTERS.values():
        if not imp.by_columns and imp.recognise(path):
            return imp.name
    if path.suffix.lower() == ".mpt":
        return "biologic-mpt"
    found = _table_format(path)
    if found is None:
        from analysis.importers.cyclers import pick_table, read_tables

        cols = list(pick_table(path, read_tables(path))[0].frame.columns)
        raise AnalysisError(
            f"{path}: unknown export format (columns: {', '.join(map(str, cols[:12]))}); "
            "give --map 'time=COL:s,voltage=COL:V,current=COL:mA' (time=COL:datetime for "
            "date-times)"
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
    if path.is_dir():
        raise AnalysisError(
            f"{path}: is a folder; give one export file, or a folder to 'ssbench analyze' / "
            f"'ssbench import FOLDER -o OUTFOLDER' (exports: {', '.join(EXPORT_SUFFIXES)})"
        )
    if not path.is_file():
        raise AnalysisError(f"{path}: no such file")
    if fmt == "biologic" and path.suffix.lower() == ".mpt":
        fmt = "biologic-mpt"
    if column_map and fmt is None:
        fmt = "csv"
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise AnalysisError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "csv":
        electro, facts = _generic(path, column_map, invert_current)
    else:
        electro, facts = IMPORTERS[fmt].read(path, invert_current=invert_current)
    area = area_m2 or facts.get("area_m2")
    if not area:
        raise AnalysisError(
            f"{path}: the electrode area is unknown; give --area, e.g. --area '1 cm2'"
        )
    meta_sample = {**(facts.get("sample") or {}), **(sample or {}), "area_m2": float(area)}
    encoding = electro.attrs.get("encoding")
    notes = f"imported from {path.name} ({fmt}" + (f", {encoding}" if encoding else "") + ")"
    notes += ", current sign inverted" if invert_current else ""
    meta_sample.setdefault("notes", notes)
    info = {"format": fmt, "file": str(path), **({"encoding": encoding} if encoding else {})}
    metadata = {**(facts.get("metadata") or {}), "sample": meta_sample, "import": info}
    streams = {"electro": electro, **(facts.get("streams") or {})}
    run = make_run(streams, events=facts.get("events"), metadata=metadata, source=str(path))
    run.warnings.extend(f"{path}: {w}" for w in electro.attrs.get("warnings", []))
    if len(run.electro) == 0:
        raise AnalysisError(f"{path}: no data rows")
    return run


def _generic(path: Path, column_map: str | None, invert_current: bool) -> tuple[pd.DataFrame, dict]:
    """A table of any origin through the user's --map."""
    from analysis.importers.cyclers import read_cycler
    from analysis.importers.table import parse_user_map

    if not column_map:
        raise AnalysisError(
            f"{path}: generic CSV needs --map 'time=COL:s,voltage=COL:V,current=COL:mA'"
        )
    return read_cycler(path, parse_user_map(column_map), invert_current=invert_current), {}


#: Files in an output folder that are ours, not exports (summary tables, step/cycle tables).
_NOT_EXPORTS = ("summary.csv", "summary_units.csv", "steps.csv", "cycles.csv", "events.csv",
                "interrupts.csv")  # fmt: skip


#: Bytes read to recognise a text export in a folder scan.
HEAD_BYTES = 65536


def looks_like_export(path: Path) -> bool:
    """Cheap test for folder scans (head of the file only): a format with its own signature,
    a workbook or Parquet file, or a text table whose header an instrument wrote."""
    from analysis.importers.cyclers import sniff_cycler
    from analysis.importers.text import decode_bytes, find_header

    if path.suffix.lower() in (".h5", ".hdf5", ".mpt", ".xlsx", ".xls", ".parquet"):
        return True
    try:
        if any(imp.recognise(path) for imp in IMPORTERS.values() if not imp.by_columns):
            return True
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
        lines = decode_bytes(head, path)[0].splitlines()
        k, sep = find_header(lines)
    except (AnalysisError, OSError, UnicodeDecodeError):
        return False
    return sniff_cycler([c.strip() for c in lines[k].split(sep)]) is not None


def collect_exports(folder: Path, *, run_files: bool = False) -> list[Path]:
    """Exports in a folder (recursively, sorted; ``run_files`` adds our .h5 files): files with
    an export suffix that an importer recognises; tables written by ``analyze`` are skipped."""
    suffixes = EXPORT_SUFFIXES + ([".h5", ".hdf5"] if run_files else [])
    return sorted(
        f
        for f in folder.rglob("*")
        if f.is_file()
        and f.suffix.lower() in suffixes
        and f.name not in _NOT_EXPORTS
        and looks_like_export(f)
    )
