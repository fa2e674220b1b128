"""Simulated microscope export: synthetic frames from the world written as TIFF/PNG files.

Like a microscope's own software exporting a live series, :class:`SimCameraExporter` writes
one file per frame into a folder, named ``<prefix>_<index>_<UTC time>.tif`` and stamped with
the acquisition time in the TIFF ``DateTime`` + ``SubSecTime`` tags (PNG: a ``DateTime`` text
chunk). With ``atomic=False`` it writes in two halves, so a folder watcher sees partly written
files just as it does with real acquisition software. Format: ``docs/instruments/camera.md``.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from sim_instruments.clocked_loop import ClockedLoop

#: TIFF tag number of SubSecTime (EXIF), written with DateTime (306)
SUBSEC_TAG = 37520
NAME_TIME_FORMAT = "%Y%m%dT%H%M%S.%f"


class SimCameraExporter:
    """Writes ``world.camera_frame()`` images into ``folder`` with acquisition timestamps."""

    def __init__(
        self,
        world: Any,
        folder: str | os.PathLike[str],
        *,
        fmt: str = "tiff",
        prefix: str = "frame",
        period_s: float = 1.0,
        atomic: bool = True,
    ) -> None:
        if fmt not in ("tiff", "png"):
            raise ValueError(f"camera format must be 'tiff' or 'png', got {fmt!r}")
        self.world = world
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fmt = fmt
        self.prefix = prefix
        self.period_s = period_s
        self.atomic = atomic
        self.index = 0
        self._loop = ClockedLoop(world.clock, period_s, self.capture, "sim-camera", step_first=True)

    def capture(self) -> Path:
        """Write one frame now; returns its path."""
        t, image = self.world.camera_frame()
        utc = self.world.clock.utc(t)
        ext = "tif" if self.fmt == "tiff" else "png"
        name = f"{self.prefix}_{self.index:05d}_{utc.strftime(NAME_TIME_FORMAT)}.{ext}"
        self.index += 1
        path = self.folder / name
        data = encode(image, utc, self.fmt)
        if self.atomic:
            partial = path.with_name("." + name + ".partial")
            partial.write_bytes(data)
            os.replace(partial, path)
        else:
            with open(path, "wb") as fh:  # two halves: a watcher may see the first alone
                fh.write(data[: len(data) // 2])
                fh.flush()
                fh.write(data[len(data) // 2 :])
        return path

    def write_partial(self, keep_fraction: float = 0.5) -> Path:
        """Write only the start of a frame file (a stalled or crashed export), for tests."""
        path = self.capture()
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep_fraction)])
        return path

    def start(self) -> None:
        """Capture every ``period_s`` of the world's clock (first frame at once)."""
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()


def encode(image: np.ndarray, utc: datetime, fmt: str) -> bytes:
    """The file bytes of ``image`` (uint16) stamped with ``utc``."""
    import io

    buffer = io.BytesIO()
    stamp = utc.strftime("%Y:%m:%d %H:%M:%S")
    subsec = f"{utc.microsecond:06d}"
    if fmt == "tiff":
        import tifffile

        tifffile.imwrite(
            buffer,
            image.astype(np.uint16),
            datetime=stamp,
            software="ssbench SimCamera",
            extratags=[(SUBSEC_TAG, "s", 0, subsec, True)],
            metadata=None,
        )
    else:
        from PIL import Image, PngImagePlugin

        info = PngImagePlugin.PngInfo()
        info.add_text("DateTime", f"{stamp}.{subsec}")
        Image.fromarray(image.astype(np.uint16)).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()
