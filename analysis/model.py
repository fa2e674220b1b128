"""The in-memory run that every loader produces and every analysis consumes.

A run is a set of streams (pandas DataFrames with a ``time`` column in run-clock seconds and
SI fields), an event log and a metadata dict. Our HDF5 reader and every importer build the same
:class:`RunData`, so the analysis never cares where a run came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError

#: Columns each known stream must carry (besides ``time``), with their SI units.
STREAM_COLUMNS: dict[str, dict[str, str]] = {
    "electro": {"voltage": "V", "current": "A"},
    "pressure": {"pressure": "Pa"},
    "thermal": {"temperature": "K"},
    "holder": {"bias": "V", "current": "A"},
}


@dataclass
class Frames:
    """In situ image stack: ``images`` (n, height, width) taken at ``time`` (s)."""

    time: np.ndarray
    images: np.ndarray
    pixel_size_m: float | None = None


@dataclass
class RunData:
    """One run: streams by name, events, metadata, optional frames, and load-time warnings."""

    streams: dict[str, pd.DataFrame]
    events: pd.DataFrame = field(default_factory=lambda: empty_events())
    metadata: dict[str, Any] = field(default_factory=dict)
    frames: Frames | None = None
    source: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def electro(self) -> pd.DataFrame:
        """The electrochemistry stream (required by most metrics)."""
        if "electro" not in self.streams:
            raise AnalysisError(f"{self.source or 'run'}: no 'electro' stream")
        return self.streams["electro"]

    @property
    def area_m2(self) -> float | None:
        """Electrode area from the sample metadata (m²), if known."""
        area = (self.metadata.get("sample") or {}).get("area_m2")
        return float(area) if area else None


def empty_events() -> pd.DataFrame:
    """An event table with the standard columns and no rows."""
    return pd.DataFrame(
        {
            "time": pd.Series(dtype=float),
            "kind": pd.Series(dtype=object),
            "step": pd.Series(dtype="Int64"),
            "message": pd.Series(dtype=object),
            "data": pd.Series(dtype=object),
        }
    )


def clean_stream(name: str, df: pd.DataFrame, where: str) -> tuple[pd.DataFrame, list[str]]:
    """Check a stream's columns, sort it by time and drop rows with non-finite required values.

    Returns the cleaned frame and human-readable warnings for everything that was changed, so a
    repair is never silent. Raises :class:`AnalysisError` naming the stream and column when the
    stream cannot be used at all.
    """
    warnings: list[str] = []
    required = ["time", *STREAM_COLUMNS.get(name, {})]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise AnalysisError(
            f"{where}: stream {name!r} lacks column(s) {', '.join(missing)} "
            f"(has: {', '.join(map(str, df.columns)) or 'none'})"
        )
    for col in required:
        if not pd.api.types.is_numeric_dtype(df[col]):
            raise AnalysisError(f"{where}: stream {name!r} column {col!r} is not numeric")
    values = df[required].to_numpy(dtype=float)
    finite = np.isfinite(values).all(axis=1)
    n_bad = int(finite.size - np.count_nonzero(finite))
    if n_bad:
        df = df.loc[finite]
        warnings.append(f"{where}: stream {name!r}: dropped {n_bad} row(s) with NaN/inf values")
    t = df["time"].to_numpy(dtype=float)
    if t.size > 1 and np.any(np.diff(t) < 0):
        order = np.argsort(t, kind="stable")
        n_back = int(np.count_nonzero(np.diff(t) < 0))
        df = df.iloc[order]
        warnings.append(
            f"{where}: stream {name!r}: time was not sorted ({n_back} backward step(s)); sorted"
        )
    if n_bad or warnings:
        df = df.reset_index(drop=True)
    return df, warnings


def make_run(
    streams: dict[str, pd.DataFrame],
    *,
    events: pd.DataFrame | None = None,
    metadata: dict[str, Any] | None = None,
    frames: Frames | None = None,
    source: str = "",
) -> RunData:
    """Build a validated :class:`RunData`: every stream cleaned, ``current_density`` filled."""
    where = source or "run"
    metadata = dict(metadata or {})
    cleaned: dict[str, pd.DataFrame] = {}
    warnings: list[str] = []
    for name, df in streams.items():
        clean, notes = clean_stream(name, df, where)
        cleaned[name] = clean
        warnings.extend(notes)
    area = (metadata.get("sample") or {}).get("area_m2")
    electro = cleaned.get("electro")
    if electro is not None and "current_density" not in electro.columns and area:
        electro = electro.assign(current_density=electro["current"].to_numpy() / float(area))
        electro.attrs = dict(cleaned["electro"].attrs)
        cleaned["electro"] = electro
    ev = empty_events() if events is None else events
    if "data" not in ev.columns:  # an event table from elsewhere (a BDF sidecar): no data yet
        ev = ev.assign(data=[{} for _ in range(len(ev))])
    return RunData(cleaned, ev, metadata, frames, source, warnings)
