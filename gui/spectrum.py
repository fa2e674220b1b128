"""Impedance view: one spectrum as a Nyquist plot (−Z″ against Z′) and Bode |Z|(f), phase(f),
with the equivalent-circuit fit overlaid (dashed).

Live, it is fed the engine's ``impedance`` stream blocks (one row per frequency point, with its
``sweep`` index): the points of the running sweep appear as they arrive, and when a sweep ends
(:meth:`SpectrumView.sweep_ended`) it becomes "the latest spectrum", is fitted
(analysis.impedance_fit, default Li|SE|Li circuit) and stays drawn with the previous one faded
behind it. In the run browser, :meth:`SpectrumView.show_stream` loads a recorded stream; the
sweep selector picks any sweep of it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

FIT_PEN = {"color": "y", "width": 1.5, "style": pg.QtCore.Qt.PenStyle.DashLine}


class SpectrumView(QWidget):
    """Nyquist + Bode (|Z|, phase) of one impedance sweep, its fit dashed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("no impedance sweep yet")
        self.fit_label = QLabel("")
        self.fit_label.setWordWrap(True)
        self.selector = QComboBox()
        self.selector.setToolTip("which sweep to show")
        self.selector.currentIndexChanged.connect(self._selected)
        self.plots = pg.GraphicsLayoutWidget()
        self.nyquist = self.plots.addPlot(row=0, col=0, rowspan=2, title="Nyquist")
        self.nyquist.setLabel("bottom", "Z′", units="Ω")
        self.nyquist.setLabel("left", "−Z″", units="Ω")
        self.nyquist.setAspectLocked(True)
        self.bode = self.plots.addPlot(row=0, col=1, title="Bode |Z|")
        self.bode.setLogMode(x=True, y=True)
        self.bode.setLabel("left", "|Z|", units="Ω")
        self.phase_plot = self.plots.addPlot(row=1, col=1, title="Bode phase")
        self.phase_plot.setLogMode(x=True, y=False)
        for plot in (self.bode, self.phase_plot):  # log axes in Hz, not rescaled to kHz
            plot.getAxis("bottom").enableAutoSIPrefix(False)
            plot.setLabel("bottom", "frequency (Hz)")
        self.phase_plot.setLabel("left", "−phase", units="°")
        self.phase_plot.setXLink(self.bode)
        self.previous = self.nyquist.plot([], [], pen=None, symbol="o", symbolSize=4,
                                          symbolBrush=(150, 150, 150, 120))  # fmt: skip
        self.current = self.nyquist.plot([], [], pen=pg.mkPen("c"), symbol="o", symbolSize=5)
        self.modulus = self.bode.plot([], [], pen=pg.mkPen("c"), symbol="o", symbolSize=4)
        self.phase = self.phase_plot.plot([], [], pen=pg.mkPen("c"), symbol="t", symbolSize=4)
        self.fit_nyquist = self.nyquist.plot([], [], pen=pg.mkPen(**FIT_PEN))
        self.fit_modulus = self.bode.plot([], [], pen=pg.mkPen(**FIT_PEN))
        self.fit_phase = self.phase_plot.plot([], [], pen=pg.mkPen(**FIT_PEN))
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.selector)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.fit_label)
        layout.addWidget(self.plots, 1)
        self.sweeps: dict[int, dict[str, list[float]]] = {}
        self.latest: int | None = None
        self.shown: int | None = None
        self.texts: dict[int, str] = {}

    # -- feeding ---------------------------------------------------------------------------
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
        """Sweep ``sweep`` is complete: it becomes the latest spectrum, fitted."""
        if sweep not in self.sweeps:
            return
        if self.latest is not None and self.latest != sweep:
            old = self.sweeps[self.latest]
            self.previous.setData(old["zr"], [-z for z in old["zi"]])
        self.latest = sweep
        self.texts[sweep] = text
        self._list_sweeps(sweep)
        self._draw(sweep, running=False)

    def show_stream(self, stream: Any) -> None:
        """A recorded ``impedance`` stream (a DataFrame): every sweep selectable, the last shown."""
        self.sweeps.clear()
        self.texts.clear()
        self.latest = self.shown = None
        self.previous.setData([], [])
        for sweep, rows in stream.groupby("sweep", sort=True):
            self.sweeps[int(sweep)] = {"f": rows["frequency"].tolist(), "zr": rows["z_real"].tolist(),
                                       "zi": rows["z_imag"].tolist()}  # fmt: skip
        if not self.sweeps:
            self._list_sweeps(None)
            self.title.setText("no impedance sweep in this run")
            return
        self.latest = max(self.sweeps)
        self._list_sweeps(self.latest)
        self._draw(self.latest, running=False)

    # -- drawing ---------------------------------------------------------------------------
    def _list_sweeps(self, current: int | None) -> None:
        self.selector.blockSignals(True)
        self.selector.clear()
        for k in sorted(self.sweeps):
            self.selector.addItem(f"sweep {k}", k)
        if current is not None:
            self.selector.setCurrentIndex(sorted(self.sweeps).index(current))
        self.selector.blockSignals(False)

    def _selected(self, index: int) -> None:
        sweep = self.selector.itemData(index)
        if sweep is not None:
            self._draw(int(sweep), running=False)

    def _draw(self, sweep: int, running: bool) -> None:
        store = self.sweeps[sweep]
        zr, zi, f = (np.asarray(store[k]) for k in ("zr", "zi", "f"))
        self.shown = sweep
        self.current.setData(zr, -zi)
        self.modulus.setData(f, np.hypot(zr, zi))
        self.phase.setData(f, -np.degrees(np.arctan2(zi, zr)))
        state = "measuring" if running else ("latest" if sweep == self.latest else "recorded")
        text = self.texts.get(sweep, "")
        self.title.setText(
            f"sweep {sweep} ({state}, {len(f)} points){' — ' + text if text else ''}"
        )
        self._fit(f, zr, zi, sweep, running)

    def _fit(
        self, f: np.ndarray, zr: np.ndarray, zi: np.ndarray, sweep: int, running: bool
    ) -> None:
        """Overlay the default-circuit fit of a finished sweep; say why when there is none."""
        from analysis.errors import AnalysisError
        from analysis.impedance import spectrum
        from analysis.impedance_fit import fit_spectrum

        for curve in (self.fit_nyquist, self.fit_modulus, self.fit_phase):
            curve.setData([], [])
        if running:
            self.fit_label.setText("")
            return
        try:
            s = spectrum(f, zr, zi, f"sweep {sweep}")
            fit = fit_spectrum(s)
        except AnalysisError as exc:
            self.fit_label.setText(f"no fit: {exc}")
            return
        z = fit.z_fit
        self.fit_nyquist.setData(z.real, -z.imag)
        self.fit_modulus.setData(s.frequency, np.abs(z))
        self.fit_phase.setData(s.frequency, -np.degrees(np.angle(z)))
        v, e = fit.values, fit.errors
        arcs = " + ".join(f"{v[n]:.4g}" for n in v if n.startswith("R") and n != "R0")
        self.fit_label.setText(f"fit {fit.circuit.text} (dashed): R_bulk {v['R0']:.4g} ± {e['R0']:.2g} Ω, "
                               f"R_interface {arcs} Ω, rms {fit.rms_relative:.2%}"
                               + ("" if not fit.warnings else f" — {fit.warnings[0]}"))  # fmt: skip
