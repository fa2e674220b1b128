"""Battery Data Format (Battery Data Alliance) time series: write and read, CSV or Parquet.

Columns use the BDF preferred labels (``Test Time / s``, ``Voltage / V``, ``Current / A``,
``Cycle Count / 1``, ``Step Count / 1``, ``Unix Time / s``, cumulative ``Charging Capacity / Ah``
and ``Discharging Capacity / Ah``, ``Applied Pressure / Pa``, ``Ambient Temperature / degC``).
BDF's current is positive when it charges the test object, which is ours (I > 0 is anodic at
the working electrode on the positive lead). Sample, protocol, import facts and events go to a
JSON sidecar ``<file>.metadata.json``, so a BDF file re-imports to the same analysis. Impedance
spectra (stream ``impedance``) go to ``<file>.impedance.bdf.csv`` with ``Frequency / Hz``,
``Real Impedance / ohm``, ``Imaginary Impedance / ohm``, ``Absolute Impedance / ohm``,
``Phase / deg`` and our ``Sweep Count / 1``.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.model import RunData

TIME, UNIX, VOLTAGE, CURRENT = "Test Time / s", "Unix Time / s", "Voltage / V", "Current / A"
CYCLE, STEP = "Cycle Count / 1", "Step Count / 1"
Q_CHARGE, Q_DISCHARGE = "Charging Capacity / Ah", "Discharging Capacity / Ah"
PRESSURE, TEMPERATURE = "Applied Pressure / Pa", "Ambient Temperature / degC"
REQUIRED = (TIME, VOLTAGE, CURRENT)
SIDECAR = ".metadata.json"
#: Impedance stream column -> BDF label, for the spectra file beside the time series.
#: ``Sweep Count / 1`` is ours (BDF has no sweep term): it keeps the sweeps apart on re-import.
SPECTRA = {
    "time": TIME,
    "frequency": "Frequency / Hz",
    "z_real": "Real Impedance / ohm",
    "z_imag": "Imaginary Impedance / ohm",
    "modulus": "Absolute Impedance / ohm",
    "phase": "Phase / deg",
    "sweep": "Sweep Count / 1",
}


def sidecar_path(path: Path) -> Path:
    """``run.bdf.csv`` -> ``run.bdf.csv.metadata.json``."""
    return path.with_name(path.name + SIDECAR)


def _cumulative_ah(t: np.ndarray, i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Charge into and out of the cell since the start (Ah, never reset), by the trapezoid."""
    dt = np.diff(t)
    pos, neg = np.clip(i, 0, None), np.clip(-i, 0, None)
    q_in = np.concatenate(([0.0], np.cumsum(0.5 * (pos[1:] + pos[:-1]) * dt))) / 3600
    q_out = np.concatenate(([0.0], np.cumsum(0.5 * (neg[1:] + neg[:-1]) * dt))) / 3600
    return q_in, q_out


def bdf_frame(run: RunData, steps: pd.DataFrame | None = None) -> pd.DataFrame:
    """The run's electro stream (and pressure, temperature on its clock) under BDF labels.

    ``steps`` (the analysis step table) gives ``Step Count`` and ``Cycle Count`` per sample;
    without it the recorded step and cycle columns are used when present.
    """
    e = run.electro
    t = e["time"].to_numpy(dtype=float)
    i = e["current"].to_numpy(dtype=float)
    out: dict[str, Any] = {TIME: t}
    anchor = run.metadata.get("clock_anchor_utc")
    if anchor:
        out[UNIX] = datetime.fromisoformat(str(anchor)).timestamp() + t
    elif "unix_time" in e:
        out[UNIX] = e["unix_time"].to_numpy(dtype=float)
    out[VOLTAGE] = e["voltage"].to_numpy(dtype=float)
    out[CURRENT] = i
    if steps is not None and len(steps):
        counts = (steps["end_row"] - steps["start_row"]).to_numpy()
        out[STEP] = np.repeat(steps["step"].to_numpy(), counts)
        out[CYCLE] = np.repeat(steps["cycle"].to_numpy(), counts)
    else:
        for src, label in (("step", STEP), ("cycle", CYCLE)):
            if src in e:
                out[label] = e[src].to_numpy()
    out[Q_CHARGE], out[Q_DISCHARGE] = _cumulative_ah(t, i)
    for stream, col, label, offset in (
        ("pressure", "pressure", PRESSURE, 0.0),
        ("thermal", "temperature", TEMPERATURE, -273.15),
    ):
        s = run.streams.get(stream)
        if s is not None and len(s):
            out[label] = np.interp(t, s["time"].to_numpy(), s[col].to_numpy()) + offset
    return pd.DataFrame(out)


def _jsonable(value: Any) -> Any:
    """Metadata as JSON: numpy scalars and arrays as Python values, anything else as text."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def spectra_path(path: Path) -> Path:
    """``run.bdf.csv`` -> ``run.impedance.bdf.csv`` (the spectra beside the time series)."""
    if ".bdf." in path.name:
        return path.with_name(path.name.replace(".bdf.", ".impedance.bdf.", 1))
    return path.with_name(f"{path.stem}.impedance{path.suffix}")


def _write_table(frame: pd.DataFrame, path: Path) -> None:
    if path.suffix.lower() == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)  # shortest exact repr: the round trip is lossless


def write_bdf(
    run: RunData, path: str | Path, *, steps: pd.DataFrame | None = None, overwrite: bool = False
) -> list[Path]:
    """Write ``path`` (.csv or .parquet by suffix), its metadata sidecar and, when the run has
    impedance spectra, the spectra file (BDF impedance labels); return the paths written."""
    path = Path(path)
    side = sidecar_path(path)
    imp = run.streams.get("impedance")
    spectra = spectra_path(path) if imp is not None and len(imp) else None
    for p in (path, side, spectra):
        if p is not None and p.exists() and not overwrite:
            raise AnalysisError(f"{p}: already exists (give --overwrite to replace it)")
    frame = bdf_frame(run, steps)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_table(frame, path)
    if spectra is not None:
        cols = [c for c in SPECTRA if c in imp.columns]
        _write_table(imp[cols].rename(columns=SPECTRA), spectra)
    meta = {
        "format": "Battery Data Format (Battery Data Alliance), time series",
        "current_sign": "positive charges the test object (anodic at the working electrode)",
        "sample": run.metadata.get("sample") or {},
        "protocol": run.metadata.get("protocol") or {},
        "station": run.metadata.get("station") or {},
        "import": run.metadata.get("import") or {},
        "exit_status": run.metadata.get("exit_status"),
        "clock_anchor_utc": run.metadata.get("clock_anchor_utc"),
        "source": run.source,
        "events": run.events.to_dict(orient="list"),
        "spectra": spectra.name if spectra is not None else None,
    }
    side.write_text(json.dumps(_jsonable(meta), indent=1), encoding="utf-8")
    return [p for p in (path, side, spectra) if p is not None]


def parquet_columns(path: Path) -> list[str]:
    """Column names of a Parquet file (schema only, no data read)."""
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names)
    except Exception as exc:  # pyarrow raises its own error types for non-Parquet bytes
        raise AnalysisError(f"{path}: cannot read as Parquet ({exc})") from None


def is_bdf(path: Path) -> bool:
    """A BDF time series: its columns include the three required labels."""
    if path.suffix.lower() == ".parquet":
        names = set(parquet_columns(path))
    else:
        with path.open("rb") as fh:
            head = fh.read(4096).decode("utf-8", errors="replace")
        names = {c.strip().strip('"') for c in head.splitlines()[0].split(",")} if head else set()
    return set(REQUIRED) <= names


def read_bdf(path: Path, *, invert_current: bool = False) -> tuple[pd.DataFrame, dict]:
    """Electro stream (and pressure, thermal streams, metadata from the sidecar) of a BDF file."""
    from analysis.importers.cyclers import BDF_MAP, read_tables
    from analysis.importers.table import apply_map

    table = read_tables(path)[0]
    frame, lines = table.frame, table.lines
    electro = apply_map(frame, BDF_MAP, str(path), lines=lines, invert_current=invert_current)
    facts: dict[str, Any] = {}
    side = sidecar_path(path)
    if side.is_file():
        try:
            meta = json.loads(side.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise AnalysisError(f"{side}: not valid JSON ({exc})") from None
        facts["sample"] = meta.get("sample") or {}
        facts["area_m2"] = facts["sample"].get("area_m2")
        keep = ("protocol", "station", "exit_status", "clock_anchor_utc")
        facts["metadata"] = {k: meta[k] for k in keep if meta.get(k) is not None}
        facts["spectra"] = meta.get("spectra")
        events = meta.get("events") or {}
        if events.get("time"):
            ev = pd.DataFrame(events)
            ev["step"] = pd.array(ev["step"], dtype="Int64")
            facts["events"] = ev
    extra = {}
    for label, stream, col, offset in (
        (PRESSURE, "pressure", "pressure", 0.0),
        (TEMPERATURE, "thermal", "temperature", 273.15),
    ):
        if label in frame.columns:
            values = pd.to_numeric(frame[label], errors="coerce").to_numpy(dtype=float)
            extra[stream] = pd.DataFrame({"time": electro["time"], col: values + offset})
    if facts.get("spectra"):
        extra["impedance"] = _read_spectra(path.with_name(facts.pop("spectra")))
    facts["streams"] = extra
    return electro, facts


def _read_spectra(path: Path) -> pd.DataFrame:
    """The impedance stream from a BDF spectra file (labels back to our column names)."""
    from analysis.importers.cyclers import read_tables

    if not path.is_file():
        raise AnalysisError(f"{path}: the spectra file named in the metadata is missing")
    frame = read_tables(path)[0].frame
    back = {label: col for col, label in SPECTRA.items()}
    missing = [label for label in (TIME, SPECTRA["frequency"]) if label not in frame.columns]
    if missing:
        raise AnalysisError(f"{path}: spectra file lacks {', '.join(map(repr, missing))}")
    out = frame[[c for c in frame.columns if c in back]].rename(columns=back)
    if "sweep" in out:
        out["sweep"] = out["sweep"].astype("int64")
    return out
