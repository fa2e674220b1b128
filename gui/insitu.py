"""In situ view: the frame at a chosen run time beside the traces, and the kymograph.

Frames come from a :class:`FrameSet`: live frames keep only the latest :data:`LIVE_FRAMES`
images in memory (older ones are read back from the run file being written, SWMR); recorded
frames are read from the run file on demand. Choosing a time (slider, or a click in a plot)
shows the frame taken at or before it; :attr:`InSituView.time_chosen` tells the plots.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

LIVE_FRAMES = 64
KYMO_FRAMES = 400  # frames sampled (evenly) into the kymograph


class FrameSet:
    """Frame times of one source and random access to the images."""

    def __init__(self, path: Path | None = None, source: str | None = None) -> None:
        self.path, self.source = path, source
        self.times: list[float] = []
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._reader = None

    @classmethod
    def recorded(cls, path: Path, source: str, times: np.ndarray) -> FrameSet:
        fs = cls(path, source)
        fs.times = [float(t) for t in times]
        return fs

    def add(self, time: float, image: np.ndarray) -> None:
        """A live frame (kept in memory until newer ones push it out)."""
        self.times.append(float(time))
        self._remember(len(self.times) - 1, image)

    def _remember(self, index: int, image: np.ndarray) -> None:
        self._cache[index] = image
        self._cache.move_to_end(index)
        while len(self._cache) > LIVE_FRAMES:
            self._cache.popitem(last=False)

    def __len__(self) -> int:
        return len(self.times)

    def index_at(self, t: float) -> int:
        """The frame taken at or before ``t`` (the first frame for earlier times)."""
        k = int(np.searchsorted(np.asarray(self.times), t, side="right")) - 1
        return min(max(k, 0), len(self.times) - 1)

    def image(self, index: int) -> np.ndarray | None:
        if index in self._cache:
            return self._cache[index]
        if self.path is None or self.source is None:
            return None
        from daq.runfile import RunReader

        if self._reader is None:
            self._reader = RunReader(self.path)
        self._reader.refresh()
        image = np.asarray(self._reader.frame(self.source, index))
        self._remember(index, image)
        return image

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


class InSituView(QWidget):
    """Frame image, time slider and the kymograph (time along x, tubule axis along y)."""

    time_chosen = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.frames: FrameSet | None = None
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.frame_box = self.graphics.addViewBox(row=0, col=0, lockAspect=True)
        self.frame_box.invertY(True)
        self.frame_item = pg.ImageItem(axisOrder="row-major")
        self.frame_box.addItem(self.frame_item)
        self.kymo_plot = self.graphics.addPlot(row=1, col=0)
        self.kymo_plot.setLabel("bottom", "time", units="s")
        self.kymo_plot.setLabel("left", "position along the tubule (px)")
        self.kymo_plot.setTitle("Kymograph", size="9pt")
        self.kymo_item = pg.ImageItem(axisOrder="row-major")
        self.kymo_plot.addItem(self.kymo_item)
        self.kymo_cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen("#2ca02c"))
        self.kymo_plot.addItem(self.kymo_cursor, ignoreBounds=True)
        self.kymo_plot.scene().sigMouseClicked.connect(self._kymo_clicked)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self._slider_moved)
        self.label = QLabel("no frames")
        self.kymo_button = QPushButton("Update kymograph")
        self.kymo_button.clicked.connect(self.update_kymograph)
        bottom = QHBoxLayout()
        bottom.addWidget(self.slider, 1)
        bottom.addWidget(self.label)
        bottom.addWidget(self.kymo_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.graphics, 1)
        layout.addLayout(bottom)
        self._follow = True

    def set_frames(self, frames: FrameSet | None) -> None:
        if self.frames is not None and self.frames is not frames:
            self.frames.close()
        self.frames = frames
        self._follow = True
        self.frame_item.clear()
        self.kymo_item.clear()
        self._sync_slider()
        if frames is not None and len(frames):
            self.show_index(len(frames) - 1)
            self.update_kymograph()
        else:
            self.label.setText("no frames")

    def frame_added(self) -> None:
        """A live frame arrived: follow the newest unless the operator picked an older one."""
        self._sync_slider()
        if self._follow:
            self.show_index(len(self.frames) - 1)

    def _sync_slider(self) -> None:
        n = len(self.frames) if self.frames is not None else 0
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(n - 1, 0))
        self.slider.setEnabled(n > 0)
        self.slider.blockSignals(False)

    def show_index(self, index: int) -> None:
        image = self.frames.image(index)
        if image is None:
            self.label.setText("frame no longer in memory")
            return
        self.frame_item.setImage(np.asarray(image, dtype=float), autoLevels=True)
        t = self.frames.times[index]
        self.label.setText(f"frame {index + 1}/{len(self.frames)} at t = {t:.1f} s")
        self.kymo_cursor.setPos(t)
        self.slider.blockSignals(True)
        self.slider.setValue(index)
        self.slider.blockSignals(False)

    def show_time(self, t: float) -> None:
        """Show the frame taken at (or just before) run time ``t``."""
        if self.frames is None or not len(self.frames):
            return
        index = self.frames.index_at(t)
        self._follow = index == len(self.frames) - 1
        self.show_index(index)

    def _slider_moved(self, index: int) -> None:
        self._follow = index == len(self.frames) - 1
        self.show_index(index)
        self.time_chosen.emit(self.frames.times[index])

    def _kymo_clicked(self, event) -> None:
        vb = self.kymo_plot.getViewBox()
        if self.frames is None or not len(self.frames):
            return
        if vb.sceneBoundingRect().contains(event.scenePos()):
            t = vb.mapSceneToView(event.scenePos()).x()
            self.show_time(t)
            self.time_chosen.emit(t)

    def update_kymograph(self) -> None:
        """Kymograph over (up to :data:`KYMO_FRAMES` evenly chosen) frames, via analysis.imaging."""
        from analysis.errors import AnalysisError
        from analysis.imaging import kymograph
        from analysis.model import Frames

        if self.frames is None or len(self.frames) < 2:
            return
        n = len(self.frames)
        picks = np.unique(np.linspace(0, n - 1, min(n, KYMO_FRAMES)).astype(int))
        images = [self.frames.image(int(k)) for k in picks]
        keep = [k for k, im in zip(picks, images, strict=True) if im is not None]
        if len(keep) < 2:
            return
        stack = np.stack([im for im in images if im is not None])
        times = np.asarray(self.frames.times)[keep]
        try:
            kymo = kymograph(Frames(times, stack))
        except AnalysisError as exc:
            self.label.setText(str(exc))
            return
        self.kymo_item.setImage(kymo.T, autoLevels=True)
        span = max(times[-1] - times[0], 1e-9)
        self.kymo_item.setRect(float(times[0]), 0.0, float(span), float(kymo.shape[1]))
