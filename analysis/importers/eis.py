"""Impedance exports users already have -> SweepRecords (frequency, Z in our sign convention).

* BioLogic EC-Lab ``.mpt`` of PEIS / GEIS: ``freq/Hz``, ``Re(Z)/Ohm``, ``-Im(Z)/Ohm`` (EC-Lab
  stores −Z''; negated here), optional ``time/s``, ``cycle number``, ``<Ewe>/V``.
* Gamry ``.DTA`` (EISPOT / EISGALV): the ``ZCURVE`` table (``Freq``, ``Zreal``, ``Zimag`` with
  Z'' signed as ours, ``Time``).
* Generic CSV with a map: ``frequency=COL:Hz,z_real=COL:ohm,z_imag=COL:ohm`` (``-z_imag=COL``
  when the column holds −Z''; optional ``time=COL:s``, ``cycle=COL``).

A file holding several sweeps is split where the frequency turns back (a new sweep starts).
Every problem names the file and, where it can, the line.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.impedance import spectrum
from analysis.impedance_table import SweepRecord

SPECTRUM_FORMATS = ("biologic_eis", "gamry", "csv")
_BIOLOGIC_HEADER = re.compile(r"Nb header lines\s*:\s*(\d+)", re.IGNORECASE)
_MAP_FIELDS = {"frequency": "Hz", "z_real": "ohm", "z_imag": "ohm", "-z_imag": "ohm",
               "time": "s", "cycle": None}  # fmt: skip


def detect_spectrum_format(path: Path) -> str | None:
    """``biologic_eis`` / ``gamry`` when ``path`` is an impedance export, else None."""
    head = Path(path).read_bytes()[:20000].decode("latin-1")
    if head.startswith("EC-Lab ASCII FILE") and "freq/Hz" in head:
        return "biologic_eis"
    if Path(path).suffix.lower() == ".dta" and "ZCURVE" in head:
        return "gamry"
    return None


def is_spectrum_file(path: Path) -> bool:
    """For the importer registry: an impedance export (it is read as spectra, not a run)."""
    return detect_spectrum_format(path) is not None


def refuse_as_run(path: Path, invert_current: bool = False) -> tuple[pd.DataFrame, dict]:
    """For the importer registry: an impedance export is not a cycling run; say where it goes."""
    raise AnalysisError(f"{path}: an impedance export ({detect_spectrum_format(path)}); "
                        "read it with 'ssbench eis' (analysis.importers.eis.read_spectra)")  # fmt: skip


def read_spectra(path: str | Path, fmt: str | None = None, column_map: str | None = None) -> list[SweepRecord]:  # fmt: skip
    """Every sweep in ``path`` (format given or recognised)."""
    path = Path(path)
    if not path.is_file():
        raise AnalysisError(f"{path}: no such file")
    fmt = fmt or ("csv" if column_map else detect_spectrum_format(path))
    if fmt == "biologic_eis":
        return read_biologic_eis(path)
    if fmt == "gamry":
        return read_gamry_dta(path)
    if fmt == "csv":
        if not column_map:
            raise AnalysisError(f"{path}: a generic CSV needs a map, e.g. 'frequency=f:Hz,z_real=re:ohm,-z_imag=im:ohm'")  # fmt: skip
        return read_eis_csv(path, column_map)
    raise AnalysisError(f"{path}: not a recognised impedance export; give a format ({', '.join(SPECTRUM_FORMATS)})")  # fmt: skip


def _numbers(table: pd.DataFrame, column: str, where: str, first_line: int) -> np.ndarray:
    if column not in table.columns:
        raise AnalysisError(f"{where}: no column {column!r} (columns: {', '.join(map(repr, table.columns))})")  # fmt: skip
    text = table[column].astype(str).str.strip().str.replace(",", ".", regex=False)
    values = pd.to_numeric(text, errors="coerce")
    bad = values.isna() & ~text.isin(["", "nan", "NaN"])
    if bad.any():
        k = int(np.flatnonzero(bad.to_numpy())[0])
        raise AnalysisError(f"{where}:{first_line + k}: column {column!r}: {text.iat[k]!r} is not a number")  # fmt: skip
    return values.to_numpy(dtype=float)


def _split(where: str, f: np.ndarray, zr: np.ndarray, zi: np.ndarray,
           time: np.ndarray | None, cycle: np.ndarray | None) -> list[SweepRecord]:  # fmt: skip
    """One SweepRecord per sweep: a new sweep begins where the frequency turns back."""
    if len(f) == 0:
        raise AnalysisError(f"{where}: the table has no rows")
    direction = np.sign(f[min(1, len(f) - 1)] - f[0]) or -1.0
    starts = [0] + [i for i in range(1, len(f)) if np.sign(f[i] - f[i - 1]) == -direction]
    bounds = [*starts, len(f)]
    records = []
    for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        context = {"sweep": k}
        if time is not None:
            context["time_s"] = float(time[a])
        if cycle is not None:
            context["cycle"] = float(cycle[a])
        label = f"{where} sweep {k}"
        records.append(SweepRecord(spectrum(f[a:b], zr[a:b], zi[a:b], label), context))
    return records


def read_biologic_eis(path: Path) -> list[SweepRecord]:
    """PEIS / GEIS sweeps of an EC-Lab ``.mpt`` export (see the module docstring)."""
    where = str(path)
    lines = path.read_bytes().decode("latin-1").splitlines()
    if not lines or not lines[0].startswith("EC-Lab ASCII FILE"):
        raise AnalysisError(f"{where}:1: not an EC-Lab ASCII export")
    match = _BIOLOGIC_HEADER.search("\n".join(lines[:5]))
    if not match:
        raise AnalysisError(f"{where}:2: missing 'Nb header lines : N'")
    n_header = int(match.group(1))
    body = "\n".join(lines[n_header - 1 :])
    table = pd.read_csv(io.StringIO(body), sep="\t", dtype=str, keep_default_na=False)
    table.columns = [str(c).strip() for c in table.columns]
    first = n_header + 1
    f = _numbers(table, "freq/Hz", where, first)
    zr = _numbers(table, "Re(Z)/Ohm", where, first)
    zi = -_numbers(table, "-Im(Z)/Ohm", where, first)
    time = _numbers(table, "time/s", where, first) if "time/s" in table.columns else None
    cycle = _numbers(table, "cycle number", where, first) if "cycle number" in table.columns else None  # fmt: skip
    keep = f > 0  # EC-Lab writes 0 Hz rows for the OCV/wait parts of a technique
    pick = lambda a: None if a is None else a[keep]  # noqa: E731
    return _split(where, f[keep], zr[keep], zi[keep], pick(time), pick(cycle))


def read_gamry_dta(path: Path) -> list[SweepRecord]:
    """The ZCURVE table of a Gamry ``.DTA`` (see the module docstring)."""
    where = str(path)
    lines = path.read_bytes().decode("latin-1").splitlines()
    start = next((i for i, line in enumerate(lines) if line.split("\t")[0].strip() == "ZCURVE"), None)  # fmt: skip
    if start is None or start + 2 >= len(lines):
        raise AnalysisError(f"{where}: no ZCURVE table (not a Gamry impedance file?)")
    header = [c.strip() for c in lines[start + 1].split("\t")]
    rows = []
    for line in lines[start + 3 :]:
        if not line.startswith("\t"):
            break  # the table ends at the first line that is not indented
        rows.append([c.strip() for c in line.split("\t")])
    table = pd.DataFrame(rows, columns=header[: max(map(len, rows))] if rows else header)
    first = start + 4
    f = _numbers(table, "Freq", where, first)
    zr = _numbers(table, "Zreal", where, first)
    zi = _numbers(table, "Zimag", where, first)
    time = _numbers(table, "Time", where, first) if "Time" in table.columns else None
    return _split(where, f, zr, zi, time, None)


def parse_spectrum_map(text: str, where: str = "--map") -> dict[str, tuple[str, str | None]]:
    """``"frequency=f:Hz,z_real=re:ohm,-z_imag=im:ohm"`` -> {field: (column, unit)}."""
    out: dict[str, tuple[str, str | None]] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        field, sep, rest = item.partition("=")
        if not sep or field.strip() not in _MAP_FIELDS:
            raise AnalysisError(f"{where}: {item!r}: expected field=column[:unit] with field one of {', '.join(_MAP_FIELDS)}")  # fmt: skip
        column, _, unit = rest.partition(":")
        out[field.strip()] = (column.strip(), unit.strip() or _MAP_FIELDS[field.strip()])
    missing = [k for k in ("frequency", "z_real") if k not in out]
    if missing or ("z_imag" in out) == ("-z_imag" in out):
        raise AnalysisError(f"{where}: the map needs frequency, z_real and one of z_imag / -z_imag")  # fmt: skip
    return out


def read_eis_csv(path: Path, column_map: str) -> list[SweepRecord]:
    """A CSV (comma, semicolon or tab separated) read through ``column_map``."""
    from daq.units import ureg

    where = str(path)
    fields = parse_spectrum_map(column_map)
    table = pd.read_csv(path, sep=None, engine="python", dtype=str, keep_default_na=False)
    table.columns = [str(c).strip() for c in table.columns]

    def column(name: str) -> np.ndarray | None:
        if name not in fields:
            return None
        col, unit = fields[name]
        values = _numbers(table, col, where, 2)
        target = _MAP_FIELDS[name]
        if unit and target:
            try:
                values = values * float(ureg.Quantity(1.0, unit).to(target).magnitude)
            except Exception:  # noqa: BLE001 - pint raises many types
                raise AnalysisError(f"{where}: column {col!r}: unit {unit!r} is not a {target} unit") from None  # fmt: skip
        return values

    zi = column("z_imag")
    zi = -column("-z_imag") if zi is None else zi
    return _split(where, column("frequency"), column("z_real"), zi, column("time"), column("cycle"))
