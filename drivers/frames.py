"""Folder watcher: frames exported by the microscope software (TIFF/PNG), with timestamps.

New files matching ``patterns`` are ingested in name order once their size has been the same
on two successive polls and they decode completely; a file that stays undecodable is skipped
with a warning and listed in :attr:`FolderFrames.skipped` (one bad export must not stop a
week-long run). The acquisition time comes from (setting ``timestamp``):

- ``"metadata"``: TIFF ``DateTime`` (+ ``SubSecTime``) tags, or a PNG ``DateTime`` text chunk;
- ``"name"``: the regex ``name_regex`` with a group ``utc`` parsed by ``time_format`` or a
  group ``t`` in seconds on the run clock;
- ``"mtime"``: the file's modification time.

Times are local to ``timezone`` (default UTC) and mapped to the run clock via its UTC anchor.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from daq.clock import Clock
from drivers.errors import InstrumentError
from drivers.roles import Frame, FrameSource
from drivers.settings import DriverSettings, Setting

log = logging.getLogger(__name__)

TIMESTAMPS = ("metadata", "name", "mtime")
#: station-file settings schema (checked by the station check and at open)
SETTINGS: dict[str, Setting] = {
    "patterns": Setting(type=(str, list)),
    "timestamp": Setting(choices=TIMESTAMPS),
    "name_regex": Setting(type=str),
    "time_format": Setting(type=str),
    "timezone": Setting(type=str),
    "include_existing": Setting(type=bool),
    "max_attempts": Setting(type=int),
}
DEFAULT_NAME_REGEX = r"_(?P<utc>\d{8}T\d{6}\.\d{6})\."
DEFAULT_TIME_FORMAT = "%Y%m%dT%H%M%S.%f"


def parse_metadata_time(text: str, subsec: str | None = None) -> datetime:
    """``"2026:11:22 03:04:05"`` (+ sub-seconds ``"250000"`` or ``".25"`` inline) -> naive time."""
    main, _, inline = text.strip().partition(".")
    value = datetime.strptime(main, "%Y:%m:%d %H:%M:%S")
    digits = (subsec or inline or "").strip()
    if digits:
        if not digits.isdigit():
            raise ValueError(f"bad sub-second field {digits!r}")
        value = value.replace(microsecond=int((digits + "000000")[:6]))
    return value


class FolderFrames(FrameSource):
    """FrameSource over a folder the microscope software exports into."""

    def __init__(self, name: str, folder: Path, settings: DriverSettings, clock: Clock) -> None:
        super().__init__(name)
        if not folder.is_dir():
            raise InstrumentError(name, f"frame folder {str(folder)!r} does not exist")
        self.folder = folder
        self.clock = clock
        patterns = settings.get("patterns", ["*.tif", "*.tiff", "*.png"])
        self.patterns = [patterns] if isinstance(patterns, str) else list(patterns)
        self.timestamp = settings.get("timestamp", "metadata")
        if self.timestamp not in TIMESTAMPS:
            raise ValueError(
                f"{name}.timestamp: one of {', '.join(TIMESTAMPS)}, got {self.timestamp!r}"
            )
        try:
            self.name_regex = re.compile(settings.get("name_regex", DEFAULT_NAME_REGEX))
        except re.error as exc:
            raise ValueError(f"{name}.name_regex: not a valid regex ({exc})") from None
        if self.timestamp == "name" and not ({"utc", "t"} & set(self.name_regex.groupindex)):
            raise ValueError(f"{name}.name_regex needs a named group 'utc' or 't'")
        self.time_format = settings.get("time_format", DEFAULT_TIME_FORMAT)
        try:
            self.tz = ZoneInfo(settings.get("timezone", "UTC"))
        except Exception:
            raise ValueError(
                f"{name}.timezone: unknown zone {settings.get('timezone')!r}"
            ) from None
        self.include_existing = settings.get("include_existing", False)
        if not isinstance(self.include_existing, bool):
            raise ValueError(
                f"{name}.include_existing: true or false, got {self.include_existing!r}"
            )
        self.max_attempts = int(settings.number("max_attempts", 5))
        self.skipped: list[Path] = []
        self._seen: set[str] = set()
        self._sizes: dict[str, int] = {}
        self._attempts: dict[str, int] = {}
        self._shape: tuple[int, int] | None = None
        self._running = False

    # -- Instrument --------------------------------------------------------------------------------
    def identity(self) -> str:
        return f"folder frame source {self.folder}"

    def settings_snapshot(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "patterns": self.patterns, "timestamp": self.timestamp,
                "name_regex": self.name_regex.pattern, "time_format": self.time_format,
                "timezone": str(self.tz)}  # fmt: skip

    def safe_state(self) -> None:
        self.stop()

    def close(self) -> None:
        self.stop()

    # -- FrameSource -------------------------------------------------------------------------------
    def start(self) -> None:
        if not self.include_existing:
            self._seen.update(p.name for p in self._candidates())
        self._running = True

    def stop(self) -> None:
        self._running = False

    @property
    def frame_shape(self) -> tuple[int, int]:
        if self._shape is None:
            raise InstrumentError(self.name, "no frame ingested yet: the frame shape is unknown")
        return self._shape

    def _candidates(self, skip: set[str] | frozenset[str] = frozenset()) -> list[Path]:
        """Matching files in name order, leaving out the names in ``skip`` before any stat:
        a poll costs one directory listing, not one stat per frame already ingested."""
        patterns = [pat.lower() for pat in self.patterns]
        with os.scandir(self.folder) as entries:
            names = sorted(
                e.name for e in entries
                if e.name not in skip and not e.name.startswith(".")
                and any(fnmatch.fnmatch(e.name.lower(), pat) for pat in patterns)
                and e.is_file()
            )  # fmt: skip
        return [self.folder / name for name in names]

    def poll(self) -> list[Frame]:
        """Complete new frames since the previous poll, oldest first."""
        if not self._running:
            raise InstrumentError(self.name, "poll() before start()")
        frames = []
        for path in self._candidates(self._seen):
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue  # renamed or removed by the exporting software since the listing
            if self._sizes.get(path.name) != size:
                self._sizes[path.name] = size  # still growing, or first sight: next poll
                continue
            frame = self._ingest(path)
            if frame is not None:
                frames.append(frame)
        return sorted(frames, key=lambda f: f.time)

    def _ingest(self, path: Path) -> Frame | None:
        try:
            image, stamp = read_image(path)
            utc = self._time(path, stamp)
        except (OSError, ValueError, SyntaxError) as exc:
            tries = self._attempts[path.name] = self._attempts.get(path.name, 0) + 1
            if tries >= self.max_attempts:
                log.warning("%s: skipping unreadable frame %s: %s", self.name, path.name, exc)
                self.skipped.append(path)
                self._seen.add(path.name)
            return None
        self._seen.add(path.name)
        self._shape = (int(image.shape[0]), int(image.shape[1]))
        t = (utc - self.clock.utc_anchor).total_seconds()
        return Frame(time=t, image=image, meta={"file": path.name, "utc": utc.isoformat()})

    def _time(self, path: Path, stamp: datetime | None) -> datetime:
        if self.timestamp == "mtime":
            return datetime.fromtimestamp(path.stat().st_mtime, UTC)
        if self.timestamp == "metadata":
            if stamp is None:
                raise ValueError(f"{path.name} carries no DateTime metadata")
            return stamp.replace(tzinfo=self.tz).astimezone(UTC)
        match = self.name_regex.search(path.name)
        if match is None:
            raise ValueError(f"{path.name} does not match name_regex {self.name_regex.pattern!r}")
        groups = match.groupdict()
        if groups.get("t") is not None:
            return self.clock.utc(float(groups["t"]))
        local = datetime.strptime(groups["utc"], self.time_format)
        return local.replace(tzinfo=self.tz).astimezone(UTC)


def read_image(path: Path) -> tuple[np.ndarray, datetime | None]:
    """Pixels (2-D) and the naive metadata timestamp (None if absent) of a TIFF or PNG file."""
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            image = page.asarray()
            tags = page.tags
            stamp = None
            if "DateTime" in tags:
                subsec = tags.get(37520)
                stamp = parse_metadata_time(
                    str(tags["DateTime"].value), subsec.value if subsec else None
                )
    else:
        from PIL import Image

        with Image.open(path) as img:
            img.load()
            image = np.array(img)
            text = img.info.get("DateTime")
            stamp = parse_metadata_time(text) if text else None
    if image.ndim != 2:
        raise ValueError(f"{path.name}: expected a single-channel image, got shape {image.shape}")
    return image, stamp


def open_folder_frames(name: str, resource: str, settings: dict[str, Any], clock: Clock):
    """Factory for station files: ``resource`` is the export folder."""
    return FolderFrames(
        name, Path(resource).expanduser(), DriverSettings(name, settings, SETTINGS), clock
    )
