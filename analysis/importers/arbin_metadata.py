"""Arbin's metadata file beside a data export: ``<name>_Metadata.csv`` (one row — test and
channel ids, schedule file, item id, first start / last end as Unix times), written next to
``<name>.csv`` by Arbin's data export. Read into the run's metadata when it is there."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analysis.errors import AnalysisError
from analysis.importers.names import norm
from analysis.importers.text import read_delimited

#: metadata column (normalised) -> key in the run's ``metadata["arbin"]``
FIELDS = {
    "test id": "test_id",
    "device id": "device_id",
    "iv ch id": "channel",
    "schedule file name": "schedule",
    "item id": "item_id",
    "resumed times": "resumed_times",
    "first start datetime": "first_start_unix_s",
    "last end datetime": "last_end_unix_s",
}
_TIMES = ("first_start_unix_s", "last_end_unix_s")


def metadata_path(data: Path) -> Path:
    """Where Arbin puts the metadata of ``data``: same folder, ``<stem>_Metadata.csv``."""
    return data.with_name(f"{data.stem}_Metadata.csv")


def read_metadata(data: Path) -> dict[str, Any]:
    """The metadata beside ``data`` as {key: value} ({} when there is none); a metadata file
    that is there but unreadable is an error naming it, never silently dropped."""
    path = metadata_path(data)
    if not path.is_file():
        return {}
    table = read_delimited(path)  # an empty or header-only file is refused there, named
    columns = {norm(str(c)): c for c in table.frame.columns}
    found = {
        key: table.frame[columns[name]].iloc[0] for name, key in FIELDS.items() if name in columns
    }
    if not found:
        raise AnalysisError(
            f"{path}:{table.header_line}: not an Arbin metadata file (none of "
            f"{', '.join(FIELDS)} in its header)"
        )
    out: dict[str, Any] = {"file": path.name}
    for key, value in found.items():
        if isinstance(value, float) and math.isnan(value):
            continue
        if key in _TIMES:
            out[key] = float(value)
            out[key.replace("_unix_s", "_utc")] = datetime.fromtimestamp(
                float(value), UTC
            ).isoformat()
        elif isinstance(value, float) and value.is_integer():
            out[key] = int(value)  # ids and counts: the table reader parses numbers as floats
        else:
            out[key] = value.item() if hasattr(value, "item") else value
    return out
