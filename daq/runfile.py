"""The run file: one HDF5 file per run, written crash-safe (SWMR) and read back as DataFrames.

Layout (``docs/run-file.md`` is the reference)::

    /                 attrs: format, format_version, run_uid, created_utc, software_version,
                             exit_status, exit_reason, clock_anchor_utc, writer_pid, writer_host
    /sample           attrs: cell metadata (area_m2, electrolyte, thickness_m, ...)
    /station          attrs: one JSON snapshot per instrument
    /protocol         datasets source, normalized_json; attr sha256
    /streams/<name>/<field>   resizable 1-D datasets, attr units; `time` on the run clock;
                      the group's attrs hold its descriptor (fields, role, instrument)
    /events           compound dataset (time, kind, step, message, data); data is JSON text
    /frames/<source>  images (N, H, W) + time (N,)

Samples are buffered and written in batches; the file is flushed on a period and on every
event. A writer killed with SIGKILL leaves a file that opens (SWMR), holds everything up to
its last flush and reads as ``interrupted``. Streams are declared from their descriptors when
the file is created (the recorder does it when the engine publishes them at run start);
:meth:`RunWriter.check_streams` checks a resumed run produces the streams its file holds.

Version 1 files (events with the data packed as JSON into ``message``) are still read, and
resumed in their own layout.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from daq import __version__
from daq.documents import EventKind, FieldSpec, StreamDescriptor
from daq.h5recover import clear_consistency_flags, superblock_state

FORMAT_NAME = "ssbench-run"
FORMAT_VERSION = 2
#: versions this ssbench reads (1: event data packed as JSON into the message)
READABLE_VERSIONS = (1, 2)
EXIT_STATUSES = ("running", "success", "aborted", "stopped", "tripped", "failed", "interrupted")
_V1_EVENT_FIELDS = [
    ("time", "f8"),
    ("kind", h5py.string_dtype()),
    ("step", "i8"),
    ("message", h5py.string_dtype()),
]
_EVENT_DTYPE = np.dtype([*_V1_EVENT_FIELDS, ("data", h5py.string_dtype())])
_CHUNK_ROWS = 16384
StreamSpec = Mapping[str, Mapping[str, str]] | list[StreamDescriptor] | tuple[StreamDescriptor, ...]


class RunFileError(Exception):
    """A run file cannot be written or read; the message names the file and the problem."""


#: what h5py, numpy and the decoders raise on damaged bytes inside an HDF5 file
_DAMAGE = (
    OSError,
    KeyError,
    AttributeError,
    UnicodeDecodeError,
    ValueError,
    TypeError,
    RuntimeError,
)


def _reports_corruption(func):
    """Wrap a RunReader accessor: damage inside the file becomes one "corrupt" RunFileError."""

    @functools.wraps(func)
    def guarded(self, *args, **kwargs):
        try:
            return func(self, *args, **kwargs)
        except RunFileError:
            raise
        except _DAMAGE as exc:
            raise RunFileError(f"{self.path}: corrupt run file: {func.__name__} cannot be read "
                               f"({type(exc).__name__}: {_reason(exc)})") from None  # fmt: skip

    return guarded


def _to_attr(value: Any) -> Any:
    """HDF5-storable form of a metadata value (nested data becomes JSON text)."""
    if value is None:
        return "null"
    if isinstance(value, str | int | float | bool | np.integer | np.floating):
        return value
    return json.dumps(value, default=str)


def _from_attr(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str) and value[:1] in "[{" or value == "null":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _descriptors(streams: StreamSpec) -> list[StreamDescriptor]:
    """Stream descriptors from descriptors or ``{name: {field: units}}``."""
    if isinstance(streams, Mapping):
        return [StreamDescriptor.build(name, fields) for name, fields in streams.items()]
    return list(streams)


def _json_value(value: Any) -> Any:
    """JSON form of the numpy values event data may hold (anything else is refused)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _v1_message(text: str, data_json: str) -> str:
    """A version-1 event message: the text and the data in one JSON object."""
    return json.dumps({"text": text, **json.loads(data_json)}, sort_keys=True)


def _v1_event(message: str) -> tuple[str, dict[str, Any]]:
    """Text and data of a version-1 event message (JSON with ``text``, or plain text)."""
    if message.startswith("{"):
        try:
            packed = json.loads(message)
        except ValueError:
            return message, {}
        if isinstance(packed, dict) and "text" in packed:
            text = packed.pop("text")
            return str(text), packed
    return message, {}


def _event_data(where: str, encoded: str) -> dict[str, Any]:
    """The data of a version-2 event (JSON object text; "" for none)."""
    if not encoded:
        return {}
    try:
        data = json.loads(encoded)
    except ValueError as exc:
        raise RunFileError(f"{where}: event data is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise RunFileError(f"{where}: event data is not a JSON object: {encoded[:80]!r}")
    return data


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def refuse_existing(path: Path) -> None:
    """A new run never overwrites a file: an existing ``path`` is a :class:`RunFileError`."""
    if path.exists():
        raise RunFileError(f"{path}: already exists; refusing to overwrite a run file")


class RunWriter:
    """Writes one run. Declare every stream and frame source up front (SWMR needs it).

    ``streams`` is a list of :class:`StreamDescriptor` or maps stream name to
    ``{field: units}`` (``time`` in s is added when missing). Use as a context manager: an
    exception closes the file as ``failed``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        streams: StreamSpec,
        *,
        sample: Mapping[str, Any] | None = None,
        station: Mapping[str, Any] | None = None,
        protocol_text: str = "",
        protocol_json: str = "",
        protocol_sha256: str = "",
        frame_sources: Mapping[str, tuple[int, int]] | None = None,
        clock_anchor_utc: datetime | None = None,
        flush_period: float = 1.0,
        batch_rows: int = 65536,
        compression: str | None = None,
        overwrite: bool = False,
    ) -> None:
        self._setup(path, flush_period, batch_rows, compression, FORMAT_VERSION)
        if not overwrite:
            refuse_existing(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = h5py.File(self.path, "w", libver="latest")
        self.run_uid = uuid.uuid4().hex
        root = self._file.attrs
        root["format"] = FORMAT_NAME
        root["format_version"] = FORMAT_VERSION
        root["run_uid"] = self.run_uid
        root["created_utc"] = datetime.now(UTC).isoformat()
        root["software_version"] = __version__
        root["exit_status"] = "running"
        root["exit_reason"] = ""
        root["clock_anchor_utc"] = (clock_anchor_utc or datetime.now(UTC)).isoformat()
        root["writer_pid"] = os.getpid()
        root["writer_host"] = socket.gethostname()
        _write_attrs(self._file.create_group("sample"), sample or {})
        _write_attrs(self._file.create_group("station"), station or {})
        proto = self._file.create_group("protocol")
        proto.create_dataset("source", data=protocol_text, dtype=h5py.string_dtype())
        proto.create_dataset("normalized_json", data=protocol_json, dtype=h5py.string_dtype())
        proto.attrs["sha256"] = protocol_sha256
        group = self._file.create_group("streams")
        for desc in _descriptors(streams):
            self._create_stream(group, desc)
        self._events = self._file.create_dataset(
            "events", shape=(0,), maxshape=(None,), chunks=(256,), dtype=_EVENT_DTYPE
        )
        frames = self._file.create_group("frames")
        for source, (height, width) in (frame_sources or {}).items():
            g = frames.create_group(source)
            g.create_dataset(
                "images",
                shape=(0, height, width),
                maxshape=(None, height, width),
                chunks=(1, height, width),
                dtype="u2",
                compression=compression,
            )
            g.create_dataset("time", shape=(0,), maxshape=(None,), chunks=(1024,), dtype="f8")
            g["time"].attrs["units"] = "s"
        self._start_swmr()

    @classmethod
    def reopen(cls, path: str | os.PathLike[str], flush_period: float = 1.0) -> RunWriter:
        """Reopen an existing run (cleanly closed or left by a killed writer) to append a segment."""
        self = cls.__new__(cls)
        self._setup(path, flush_period, 65536, None, FORMAT_VERSION)
        clear_consistency_flags(self.path)
        try:
            self._file = h5py.File(self.path, "r+", libver="latest")
        except OSError as exc:
            raise RunFileError(
                f"{self.path}: cannot reopen for appending ({_reason(exc)})"
            ) from None
        if _from_attr(self._file.attrs.get("format", "")) != FORMAT_NAME:
            self._file.close()
            raise RunFileError(f"{self.path}: not an ssbench run file")
        self.format_version = int(self._file.attrs.get("format_version", -1))
        if self.format_version not in READABLE_VERSIONS:
            self._file.close()
            raise RunFileError(
                f"{self.path}: run-file format version {self.format_version} cannot be resumed "
                f"by this ssbench (it writes versions {READABLE_VERSIONS})"
            )
        self.run_uid = _from_attr(self._file.attrs["run_uid"])
        self._file.attrs["exit_status"] = "running"
        self._file.attrs["exit_reason"] = ""
        self._file.attrs["writer_pid"] = os.getpid()
        self._file.attrs["writer_host"] = socket.gethostname()
        self._fields = {name: _field_order(g) for name, g in self._file["streams"].items()}
        self._events = self._file["events"]
        self._start_swmr()
        return self

    def _setup(
        self,
        path: str | os.PathLike[str],
        flush_period: float,
        batch_rows: int,
        compression: str | None,
        format_version: int,
    ) -> None:
        """State shared by a new and a reopened writer (nothing written yet)."""
        self.path = Path(path)
        self.flush_period = flush_period
        self.batch_rows = batch_rows
        self.compression = compression
        self.format_version = format_version
        self._lock = threading.RLock()
        self._fields: dict[str, list[str]] = {}
        self._pending: dict[str, list[dict[str, np.ndarray]]] = {}
        self._pending_rows: dict[str, int] = {}
        self._closed = False
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, daemon=True, name="run-flush")

    def check_streams(self, streams: StreamSpec) -> None:
        """Check a run produces the streams this file holds (a resumed run: same fields, and
        no new stream, which SWMR cannot add); a mismatch is a :class:`RunFileError`."""
        for desc in _descriptors(streams):
            fields = self._fields.get(desc.name)
            if fields is None:
                raise RunFileError(
                    f"{self.path}: the run now produces stream {desc.name!r}, which the file "
                    f"lacks (streams: {', '.join(self._fields) or 'none'})"
                )
            if fields != desc.field_names:
                raise RunFileError(
                    f"{self.path}: stream {desc.name!r} has fields {fields}, "
                    f"the run now produces {desc.field_names}"
                )

    def _start_swmr(self) -> None:
        """Switch to SWMR and start the periodic flusher; no new objects after this."""
        self._file.swmr_mode = True
        self._pending = {n: [] for n in self._fields}
        self._pending_rows = dict.fromkeys(self._fields, 0)
        self._last_flush = time.monotonic()
        self._flusher.start()

    def _create_stream(self, group: h5py.Group, desc: StreamDescriptor) -> None:
        g = group.create_group(desc.name)
        for spec in desc.fields:
            ds = g.create_dataset(
                spec.name,
                shape=(0,),
                maxshape=(None,),
                chunks=(_CHUNK_ROWS,),
                dtype=spec.dtype,
                compression=self.compression,
                shuffle=self.compression is not None,
            )
            ds.attrs["units"] = spec.units
        g.attrs["fields"] = json.dumps(desc.field_names)
        g.attrs["role"] = desc.role
        g.attrs["instrument"] = desc.instrument
        self._fields[desc.name] = desc.field_names

    # -- writing -------------------------------------------------------------------------
    def append(self, stream: str, data: Mapping[str, Any]) -> None:
        """Append rows to ``stream``: ``data`` maps every field to equal-length arrays/scalars."""
        fields = self._fields.get(stream)
        if fields is None:
            raise RunFileError(
                f"{self.path}: no stream {stream!r} (declared: {list(self._fields)})"
            )
        missing = set(fields) - set(data)
        extra = set(data) - set(fields)
        if missing or extra:
            raise RunFileError(
                f"{self.path}: stream {stream!r} rows must have fields {fields}; "
                f"missing {sorted(missing)}, unknown {sorted(extra)}"
            )
        arrays = {f: np.asarray(data[f]) for f in fields}
        rows = max((a.shape[0] for a in arrays.values() if a.ndim), default=1)
        columns = {f: np.broadcast_to(a, (rows,)) if a.ndim == 0 else a for f, a in arrays.items()}
        lengths = {len(c) for c in columns.values()}
        if len(lengths) != 1:
            raise RunFileError(f"{self.path}: stream {stream!r} columns differ in length {lengths}")
        with self._lock:
            self._check_open()
            self._pending[stream].append(columns)
            self._pending_rows[stream] += lengths.pop()
            if self._pending_rows[stream] >= self.batch_rows:
                self._write_pending(stream)

    def event(
        self,
        time_s: float,
        kind: str,
        text: str = "",
        step: int = -1,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Record an event (an :class:`EventKind`, its one-line text, step and structured data)
        and flush, so it survives a crash right after. An unknown kind or data that JSON cannot
        hold is a :class:`RunFileError`."""
        where = f"{self.path}: event at t={time_s:g} s"
        try:
            kind = EventKind.parse(kind, where)
        except ValueError as exc:
            raise RunFileError(str(exc)) from None
        try:
            encoded = json.dumps(dict(data or {}), default=_json_value, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise RunFileError(f"{where}: {kind} data cannot be stored ({exc})") from None
        if self.format_version == 1:  # a resumed v1 run keeps its layout: data in the message
            row: tuple = (time_s, kind, step, _v1_message(text, encoded))
        else:
            row = (time_s, kind, step, text, encoded)
        with self._lock:
            self._check_open()
            n = self._events.shape[0]
            self._events.resize((n + 1,))
            self._events[n] = row
            self._flush_locked()

    def add_frame(self, source: str, time_s: float, image: np.ndarray) -> None:
        """Append one frame (uint16 image of the declared shape) at run time ``time_s``."""
        with self._lock:
            self._check_open()
            try:
                g = self._file["frames"][source]
            except KeyError:
                raise RunFileError(f"{self.path}: no frame source {source!r}") from None
            images, times = g["images"], g["time"]
            if image.shape != images.shape[1:]:
                raise RunFileError(
                    f"{self.path}: frame of shape {image.shape} for source {source!r}, "
                    f"declared {images.shape[1:]}"
                )
            n = images.shape[0]
            images.resize((n + 1, *images.shape[1:]))
            times.resize((n + 1,))
            images[n] = image
            times[n] = time_s

    def flush(self) -> None:
        """Write every buffered sample and flush the file to disk."""
        with self._lock:
            if not self._closed:
                self._flush_locked()

    def close(self, status: str = "success", reason: str = "") -> None:
        """Flush, close and record the exit status (one of EXIT_STATUSES)."""
        if status not in EXIT_STATUSES or status == "running":
            raise ValueError(f"exit status must be one of {EXIT_STATUSES[1:]}, got {status!r}")
        with self._lock:
            if self._closed:
                return
            self._flush_locked()
            self._closed = True
            self._file.close()
        self._stop.set()
        self._flusher.join(timeout=5)
        with h5py.File(self.path, "r+") as f:
            f.attrs["exit_status"] = status
            f.attrs["exit_reason"] = reason

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close("success")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.close("aborted", "interrupted by the operator")
        else:
            self.close("failed", f"{exc_type.__name__}: {exc}")

    # -- internals -----------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise RunFileError(f"{self.path}: the run file is closed")

    def _write_pending(self, stream: str) -> None:
        blocks = self._pending[stream]
        if not blocks:
            return
        group = self._file["streams"][stream]
        rows = self._pending_rows[stream]
        for field in self._fields[stream]:
            column = (
                blocks[0][field] if len(blocks) == 1 else np.concatenate([b[field] for b in blocks])
            )
            ds = group[field]
            n = ds.shape[0]
            ds.resize((n + rows,))
            ds[n:] = column
        blocks.clear()
        self._pending_rows[stream] = 0

    def _flush_locked(self) -> None:
        for stream in self._pending:
            self._write_pending(stream)
        self._file.flush()
        self._last_flush = time.monotonic()

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.flush_period / 4):
            with self._lock:
                if self._closed:
                    return
                if time.monotonic() - self._last_flush >= self.flush_period:
                    self._flush_locked()


def _frame(group: h5py.Group, fields: list[str], start: int, stop: int) -> pd.DataFrame:
    """Read rows ``start:stop`` into one float64 block plus index columns, without extra copies."""
    floats = [f for f in fields if group[f].dtype.kind == "f"]
    block = np.empty((len(floats), stop - start))
    for row, field in zip(block, floats, strict=True):
        if stop > start:
            group[field].read_direct(row, np.s_[start:stop])
    df = pd.DataFrame(block.T, columns=floats, copy=False)
    for field in fields:
        if field not in floats:
            df.insert(fields.index(field), field, group[field][start:stop])
    return df


def _field_order(group: h5py.Group) -> list[str]:
    """Fields of a stream group in the order the writer declared them."""
    return _from_attr(group.attrs["fields"]) if "fields" in group.attrs else list(group)


def _write_attrs(group: h5py.Group, values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        group.attrs[key] = _to_attr(value)


class RunReader:
    """Reads a run file, also while it is being written (SWMR). Use as a context manager."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise RunFileError(f"{self.path}: no such file")
        try:
            writing, eof = superblock_state(self.path)
        except OSError as exc:
            raise RunFileError(f"{self.path}: cannot read ({exc})") from None
        size = self.path.stat().st_size
        if eof is not None and size < eof:
            raise RunFileError(
                f"{self.path}: truncated ({size} of {eof} bytes); not a complete run file"
            )
        try:
            self._file = h5py.File(self.path, "r", swmr=writing, locking=False)
        except OSError as exc:
            raise RunFileError(
                f"{self.path}: not a readable HDF5 run file ({_reason(exc)})"
            ) from None
        attrs = self._file.attrs
        fmt = _from_attr(attrs.get("format", ""))
        if fmt != FORMAT_NAME:
            self._file.close()
            raise RunFileError(f"{self.path}: not an ssbench run file (format {fmt!r})")
        version = int(attrs.get("format_version", -1))
        if version not in READABLE_VERSIONS:
            self._file.close()
            raise RunFileError(
                f"{self.path}: run-file format version {version} is not supported "
                f"(this ssbench reads versions {', '.join(map(str, READABLE_VERSIONS))}); "
                "upgrade ssbench"
            )
        self.format_version = version

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RunReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def refresh(self) -> None:
        """Pick up data a live writer appended since the last read."""
        for name in self.stream_names:
            for ds in self._file["streams"][name].values():
                ds.refresh()
        self._file["events"].refresh()
        for g in self._file["frames"].values():
            g["images"].refresh()
            g["time"].refresh()

    # -- metadata ------------------------------------------------------------------------
    @property
    def attrs(self) -> dict[str, Any]:
        return {k: _from_attr(v) for k, v in self._file.attrs.items()}

    @property
    def status(self) -> str:
        """Exit status; a file left ``running`` by a writer that no longer exists is ``interrupted``."""
        self._file.attrs  # noqa: B018 - attrs are re-read on access
        status = _from_attr(self._file.attrs.get("exit_status", "interrupted"))
        if status == "running" and not self._writer_alive():
            return "interrupted"
        if status not in EXIT_STATUSES:
            raise RunFileError(f"{self.path}: corrupt run file: exit status {status!r} is not one "
                               f"of {', '.join(EXIT_STATUSES)}")  # fmt: skip
        return status

    @property
    def exit_reason(self) -> str:
        return _from_attr(self._file.attrs.get("exit_reason", ""))

    def _writer_alive(self) -> bool:
        attrs = self._file.attrs
        if _from_attr(attrs.get("writer_host", "")) != socket.gethostname():
            return False
        pid = int(attrs.get("writer_pid", -1))
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError, OverflowError, ValueError):
            return False
        return True

    @property
    def sample(self) -> dict[str, Any]:
        return {k: _from_attr(v) for k, v in self._file["sample"].attrs.items()}

    @property
    def station(self) -> dict[str, Any]:
        return {k: _from_attr(v) for k, v in self._file["station"].attrs.items()}

    @property
    def protocol(self) -> dict[str, str]:
        g = self._file["protocol"]
        return {
            "source": g["source"].asstr()[()],
            "normalized_json": g["normalized_json"].asstr()[()],
            "sha256": _from_attr(g.attrs.get("sha256", "")),
        }

    def metadata(self) -> dict[str, Any]:
        """Everything but the data: root attributes, sample, station and protocol."""
        return {
            **self.attrs,
            "exit_status": self.status,
            "sample": self.sample,
            "station": self.station,
            "protocol": self.protocol,
        }

    # -- data ----------------------------------------------------------------------------
    @property
    def stream_names(self) -> list[str]:
        return list(self._file["streams"])

    def stream_length(self, name: str) -> int:
        """Rows of ``name`` visible now (the shortest field, should a writer be mid-append)."""
        return min(ds.shape[0] for ds in self._stream_group(name).values())

    def units(self, name: str) -> dict[str, str]:
        group = self._stream_group(name)
        return {f: _from_attr(group[f].attrs.get("units", "")) for f in _field_order(group)}

    def descriptor(self, name: str) -> StreamDescriptor:
        """What stream ``name`` holds and where it came from (role and instrument are "" in
        files that predate descriptors)."""
        group = self._stream_group(name)
        fields = [
            FieldSpec(f, _from_attr(group[f].attrs.get("units", "")), group[f].dtype.str[1:])
            for f in _field_order(group)
        ]
        return StreamDescriptor(name, tuple(fields), _from_attr(group.attrs.get("role", "")),
                                _from_attr(group.attrs.get("instrument", "")))  # fmt: skip

    def descriptors(self) -> dict[str, StreamDescriptor]:
        """The descriptor of every stream, by name."""
        return {name: self.descriptor(name) for name in self.stream_names}

    def stream(self, name: str, start: int = 0, stop: int | None = None) -> pd.DataFrame:
        """Rows ``start:stop`` of stream ``name`` as a DataFrame; ``df.attrs['units']`` per column."""
        group = self._stream_group(name)
        n = self.stream_length(name)
        stop = n if stop is None else min(stop, n)
        df = _frame(group, _field_order(group), start, max(stop, start))
        df.attrs["units"] = self.units(name)
        df.attrs["stream"] = name
        return df

    def _stream_group(self, name: str) -> h5py.Group:
        try:
            return self._file["streams"][name]
        except KeyError:
            raise RunFileError(
                f"{self.path}: no stream {name!r} (streams: {', '.join(self.stream_names)})"
            ) from None

    def events(self) -> pd.DataFrame:
        """The event log: time, kind, step, message (the one-line text) and data (a dict),
        decoded here for every format version."""
        raw = self._file["events"][:]
        messages = [_text(m) for m in raw["message"]]
        if self.format_version == 1:
            texts, data = zip(*map(_v1_event, messages), strict=True) if messages else ((), ())
        else:
            texts = messages
            data = [
                _event_data(f"{self.path}: /events row {row}", _text(d))
                for row, d in enumerate(raw["data"])
            ]
        return pd.DataFrame(
            {
                "time": raw["time"],
                "kind": [_text(k) for k in raw["kind"]],
                "step": raw["step"],
                "message": list(texts),
                "data": list(data),
            }
        )

    @property
    def frame_sources(self) -> list[str]:
        return list(self._file["frames"])

    def frame_times(self, source: str) -> np.ndarray:
        return self._file["frames"][source]["time"][:]

    def frame(self, source: str, index: int) -> np.ndarray:
        return self._file["frames"][source]["images"][index]

    def frames(self, source: str) -> tuple[np.ndarray, np.ndarray]:
        """All frames of ``source``: (times, images[N, H, W])."""
        g = self._file["frames"][source]
        n = min(g["time"].shape[0], g["images"].shape[0])
        return g["time"][:n], g["images"][:n]


def _guard_reader() -> None:
    """Apply :func:`_reports_corruption` to every public RunReader accessor (and the open)."""
    for name, member in list(vars(RunReader).items()):
        if name.startswith("_") and name != "__init__" or name == "close":
            continue
        if isinstance(member, property):
            setattr(RunReader, name, property(_reports_corruption(member.fget)))
        elif callable(member):
            setattr(RunReader, name, _reports_corruption(member))


_guard_reader()


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if "(" in text and text.endswith(")"):
        text = text[text.index("(") + 1 : -1]
    return text.splitlines()[0] if text else type(exc).__name__
