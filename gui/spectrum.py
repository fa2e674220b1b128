"""Live impedance view: the latest spectrum as a Nyquist plot (−Z″ against Z′) and |Z|(f).

Fed with the engine's ``impedance`` stream blocks (one row per frequency point, with its
``sweep`` index); the points of the running sweep appear as they arrive, and when a sweep ends
(:meth:`SpectrumView.sweep_ended`) it becomes "the latest spectrum" and stays drawn, with the
previous one faded behind it for comparison.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class SpectrumView(QWidget):
    """Nyquist + Bode |Z| of the running / latest impedance sweep."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("no impedance sweep yet")
        self.plots = pg.GraphicsLayoutWidget()
        self.nyquist = self.plots.addPlot(row=0, col=0, title="Nyquist")
        self.nyquist.setLabel("bottom", "Z′", units="Ω")
        self.nyquist.setLabel("left", "−Z″", units="Ω")
        self.nyquist.setAspectLocked(True)
        self.bode = self.plots.addPlot(row=0, col=1, title="|Z|")
        self.bode.setLogMode(x=True, y=True)
        self.bode.setLabel("bottom", "frequency", units="Hz")
        self.previous = self.nyquist.plot([], [], pen=None, symbol="o", symbolSize=4,
                                          symbolBrush=(150, 150, 150, 120))  # fmt: skip
        self.current = self.nyquist.plot([], [], pen=pg.mkPen("c"), symbol="o", symbolSize=5)
        self.modulus = self.bode.plot([], [], pen=pg.mkPen("c"), symbol="o", symbolSize=4)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.plots, 1)
        self.sweeps: dict[int, dict[str, list[float]]] = {}
        self.latest: int | None = None

    def add_samples(self, data: dict[str, Any]) -> None:
        """One ``impedance`` stream block; draws the sweep it belongs to."""
        n = np.asarray(data["frequency"]).size
        sweep = np.broadcast_to(np.asarray(data.get("sweep", 0)), (n,))
        for k in np.unique(sweep):
            rows = sweep == k
            store = self.sweeps.setdefault(int(k), {"f": [], "zr": [], "zi": []})
            for key, name in (("f", "frequency"), ("zr", "z_real"), ("zi", "z_imag")):
                store[key] += np.asarray(data[name], dtype=float)[rows].tolist()
            self._draw(int(k), running=True)

    def sweep_ended(self, sweep: int, text: str = "") -> None:
        """Sweep ``sweep`` is complete: it becomes the latest spectrum."""
        if sweep not in self.sweeps:
            return
        if self.latest is not None and self.latest != sweep:
            old = self.sweeps[self.latest]
            self.previous.setData(old["zr"], [-z for z in old["zi"]])
        self.latest = sweep
        self._draw(sweep, running=False, text=text)

    def _draw(self, sweep: int, running: bool, text: str = "") -> None:
        store = self.sweeps[sweep]
        zr, zi, f = (np.asarray(store[k]) for k in ("zr", "zi", "f"))
        self.current.setData(zr, -zi)
        self.modulus.setData(f, np.hypot(zr, zi))
        state = "measuring" if running else "latest"
        self.title.setText(
            f"sweep {sweep} ({state}, {len(f)} points){' — ' + text if text else ''}"
        )
