"""Write a RunData (e.g. an imported cycler file) as our HDF5 run file via daq.runfile.RunWriter."""

from __future__ import annotations

from pathlib import Path

from analysis.model import RunData


def write_run(run: RunData, path: str | Path, *, overwrite: bool = False) -> Path:
    """Store every stream (with units), the sample metadata and the events; return the path."""
    from daq.runfile import RunWriter

    spec = {
        name: {c: (df.attrs.get("units") or {}).get(c, "") for c in df.columns}
        for name, df in run.streams.items()
    }
    for name, fields in spec.items():
        fields["time"] = "s"
        if name == "electro" and "current_density" in fields:
            fields["current_density"] = "A/m2"
    sample = run.metadata.get("sample") or {}
    with RunWriter(
        path,
        spec,
        sample=sample,
        station={"import": run.metadata.get("import", {})},
        overwrite=overwrite,
    ) as writer:
        for name, df in run.streams.items():
            writer.append(name, {c: df[c].to_numpy() for c in df.columns})
        for ev in run.events.itertuples(index=False):
            step = -1 if ev.step is None or ev.step != ev.step else int(ev.step)
            writer.event(float(ev.time), str(ev.kind), str(ev.message), step, ev.data)
    return Path(path)
