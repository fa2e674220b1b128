"""``load_run(path)``: our HDF5 run files (via daq.runfile.RunReader) or any importable export."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.errors import AnalysisError
from analysis.model import Frames, RunData, make_run

RUN_SUFFIXES = (".h5", ".hdf5")


def load_run(
    path: str | Path,
    *,
    area_m2: float | None = None,
    fmt: str | None = None,
    column_map: str | None = None,
) -> RunData:
    """Load a run: ``.h5`` through RunReader, anything else through the importers."""
    path = Path(path)
    if path.suffix.lower() not in RUN_SUFFIXES:
        from analysis.importers.auto import import_file

        return import_file(path, area_m2=area_m2, fmt=fmt, column_map=column_map)
    from daq.runfile import RunFileError, RunReader

    try:
        with RunReader(path) as reader:
            streams = {
                name: reader.stream(name)
                for name in reader.stream_names
                if reader.stream_length(name)
            }
            events = reader.events()
            metadata = reader.metadata()
            frames = _frames(reader, metadata)
    except RunFileError as exc:
        raise AnalysisError(str(exc)) from None
    if "electro" not in streams and frames is None:
        raise AnalysisError(
            f"{path}: nothing to analyse: no electro samples and no frames "
            f"(streams with data: {', '.join(streams) or 'none'})"
        )
    if area_m2:
        metadata["sample"] = {**metadata.get("sample", {}), "area_m2": area_m2}
    return make_run(streams, events=events, metadata=metadata, frames=frames, source=str(path))


def _frames(reader, metadata: dict) -> Frames | None:
    """The first frame source's stack, with the pixel size from the sample metadata if given."""
    for source in reader.frame_sources:
        times, images = reader.frames(source)
        if len(times):
            px = (metadata.get("sample") or {}).get("pixel_size_m")
            return Frames(np.asarray(times), np.asarray(images), float(px) if px else None)
    return None
