"""Live plots: V, J, pressure and temperature against time; V against areal capacity per half
cycle; overpotential and CE per cycle (for a cell with a cathode: charge and discharge
capacity and CE = discharge / charge per cycle, from analysis's own cycle table, one point as
each cycle ends); markers for step changes, trips, void onset and shorts.

Every redraw asks each :class:`~gui.tracestore.TraceStore` for the visible time range at one
min/max pair per pixel column, so the cost of a frame does not grow with the run. Time is shown
in hours. A click in any time plot moves the shared cursor and emits :attr:`LivePlots.time_clicked`
(run seconds) so the in situ view can show the frame at that time.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QWidget

from gui.live import MARKER_KINDS, LiveData

HOUR = 3600.0
C_M2_PER_MAH_CM2 = 36_000.0  # 1 mAh/cm² = 3.6 C / 1e-4 m²
#: (stream, channel, y label, y unit, scale from SI to the shown unit)
TIME_PLOTS = (
    ("electro", "voltage", "V", "V", 1.0),
    ("electro", "current_density", "J", "mA/cm²", 0.1),
    ("pressure", "pressure", "P", "MPa", 1e-6),
    ("thermal", "temperature", "T", "°C", None),  # None: kelvin -> degC
    ("bias", "voltage", "bias", "V", 1.0),
)
MAX_VISIBLE_MARKERS = 400
REFRESH_MS = 40


def _label(plot: pg.PlotItem, side: str, text: str | None) -> None:
    """Axis label with the unit written out (no automatic SI prefix: 'mA/cm²' stays so)."""
    axis = plot.getAxis(side)
    axis.enableAutoSIPrefix(False)
    if text is None:
        axis.showLabel(False)
    else:
        plot.setLabel(side, text)


def _scaled(y: np.ndarray, scale: float | None) -> np.ndarray:
    return y - 273.15 if scale is None else y * scale


class LivePlots(pg.GraphicsLayoutWidget):
    """The plot grid of the bench window, fed by a :class:`~gui.live.LiveData`."""

    time_clicked = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.data: LiveData | None = None
        self.time_plots: dict[tuple[str, str], pg.PlotItem] = {}
        self.curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        self.marker_items: dict[tuple[str, str], dict[str, pg.PlotDataItem]] = {}
        self.cursors: list[pg.InfiniteLine] = []
        first: pg.PlotItem | None = None
        for row, (stream, ch, label, unit, _) in enumerate(TIME_PLOTS):
            plot = self.addPlot(row=row, col=0)
            _label(plot, "left", f"{label} ({unit})")
            plot.getAxis("bottom").setStyle(showValues=False)
            plot.showGrid(x=True, y=True, alpha=0.3)
            plot.setDownsampling(auto=False)
            plot.setClipToView(False)  # the store clips; pyqtgraph gets only visible points
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            curve = plot.plot(pen=pg.mkPen("#1f77b4", width=1))
            self.time_plots[(stream, ch)] = plot
            self.curves[(stream, ch)] = curve
            self.marker_items[(stream, ch)] = {}
            for kind, colour in MARKER_KINDS.items():
                style = Qt.PenStyle.DotLine if kind == "step" else Qt.PenStyle.SolidLine
                item = pg.PlotDataItem(pen=pg.mkPen(colour, width=1, style=style), connect="pairs")
                plot.addItem(item, ignoreBounds=True)
                self.marker_items[(stream, ch)][kind] = item
            cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#2ca02c", width=1))
            cursor.setVisible(False)
            plot.addItem(cursor, ignoreBounds=True)
            self.cursors.append(cursor)
        self._first = first
        self.scene().sigMouseClicked.connect(self._clicked)
        self.right = pg.GraphicsLayout()
        self.capacity_plot = self.right.addPlot(row=0, col=0)
        _label(self.capacity_plot, "left", "V (V)")
        _label(self.capacity_plot, "bottom", "areal capacity (mAh/cm²)")
        self.capacity_plot.setTitle("V vs capacity, per half cycle", size="9pt")
        self.capacity_plot.showGrid(x=True, y=True, alpha=0.3)
        self.live_curve = self.capacity_plot.plot(pen=pg.mkPen("k", width=1.5))
        self.cycle_curves: list[pg.PlotDataItem] = []
        self.eta_plot = self.right.addPlot(row=1, col=0)
        _label(self.eta_plot, "left", "mean |V| per half cycle (V)")
        self.eta_plot.addLegend(offset=(5, 5))
        self.eta_strip = self.eta_plot.plot(pen="#d62728", symbol="o", symbolSize=5,
                                            symbolBrush="#d62728", name="strip")  # fmt: skip
        self.eta_plate = self.eta_plot.plot(pen="#1f77b4", symbol="s", symbolSize=5,
                                            symbolBrush="#1f77b4", name="plate")  # fmt: skip
        self.cycle_capacity_plot = pg.PlotItem()
        _label(self.cycle_capacity_plot, "left", "capacity (mAh/g)")
        self.cycle_capacity_plot.setTitle("capacity per cycle", size="9pt")
        self.cycle_capacity_plot.showGrid(x=True, y=True, alpha=0.3)
        self.cycle_capacity_plot.addLegend(offset=(5, 5))
        self.q_charge = self.cycle_capacity_plot.plot(pen="#d62728", symbol="o", symbolSize=5,
                                                      symbolBrush="#d62728", name="charge")  # fmt: skip
        self.q_discharge = self.cycle_capacity_plot.plot(pen="#1f77b4", symbol="s", symbolSize=5,
                                                         symbolBrush="#1f77b4", name="discharge")  # fmt: skip
        self.ce_plot = self.right.addPlot(row=2, col=0)
        _label(self.ce_plot, "left", "CE (%)")
        _label(self.ce_plot, "bottom", "cycle")
        self.ce_plot.setXLink(self.eta_plot)
        self.ce_curve = self.ce_plot.plot(pen="#2ca02c", symbol="o", symbolSize=5,
                                          symbolBrush="#2ca02c")  # fmt: skip
        self.shown_streams = tuple(dict.fromkeys(s for s, *_ in TIME_PLOTS))
        self.set_streams(self.shown_streams)
        self._drawn: tuple | None = None
        self._cycles_drawn: tuple[int, int] | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    def _legend_title(self, top: pg.PlotItem) -> None:
        """Marker colours, written as the title of the top time plot."""
        names = {"step": "step change", "trip": "trip", "void_onset": "void onset",
                 "short": "short"}  # fmt: skip
        keys = " &nbsp; ".join(f"<span style='color:{c}'>&#9474; {names[k]}</span>"
                               for k, c in MARKER_KINDS.items())  # fmt: skip
        for plot in self.time_plots.values():
            plot.setTitle(None)
        top.setTitle(f"<span style='font-size:8pt'>markers: {keys} &nbsp; "
                     "<span style='color:#2ca02c'>&#9474; cursor</span></span>")  # fmt: skip

    def set_streams(self, streams: tuple[str, ...]) -> None:
        """Show only the time plots of these streams (the station's roles); time axis at the bottom."""
        self.shown_streams = tuple(streams)
        for item in (*self.time_plots.values(), self.right):
            if item in self.ci.items:
                self.ci.removeItem(item)
        shown = [k for k in self.time_plots if k[0] in streams] or [("electro", "voltage")]
        for row, key in enumerate(shown):
            plot = self.time_plots[key]
            self.ci.addItem(plot, row=row, col=0)
            last = row == len(shown) - 1
            plot.getAxis("bottom").setStyle(showValues=last)
            _label(plot, "bottom", "time (h)" if last else None)
        self.ci.addItem(self.right, row=0, col=1, rowspan=len(shown))
        self._legend_title(self.time_plots[shown[0]])
        self.ci.layout.setColumnStretchFactor(0, 3)
        self.ci.layout.setColumnStretchFactor(1, 2)
        self.right.setMaximumWidth(560)

    def set_data(self, data: LiveData | None) -> None:
        """Show ``data`` (a new run or a run opened in the browser): a cell with a cathode
        shows its capacity per cycle where a Li-metal cell shows its overpotentials."""
        self.data = data
        self._drawn = None
        self._cycles_drawn = None
        full = data is not None and data.capacity is not None
        shown, hidden = (
            (self.cycle_capacity_plot, self.eta_plot)
            if full
            else (self.eta_plot, self.cycle_capacity_plot)
        )
        if hidden in self.right.items:
            self.right.removeItem(hidden)
        if shown not in self.right.items:
            self.right.addItem(shown, row=1, col=0)
        self.ce_plot.setXLink(shown)
        _label(self.ce_plot, "left", "CE = discharge / charge (%)" if full else "CE (%)")
        if full:
            _label(self.cycle_capacity_plot, "left", f"capacity ({data.capacity.unit()[1]})")
        for plot in (*self.time_plots.values(), self.capacity_plot, shown, self.ce_plot):
            plot.enableAutoRange()
        self.refresh()

    # -- drawing ---------------------------------------------------------------------------
    def _view_seconds(self) -> tuple[float, float] | None:
        """The time span to draw: all data while following, else the visible x range."""
        data = self.data
        span = data.time_range() if data is not None else None
        if span is None:
            return None
        if self._first.getViewBox().autoRangeEnabled()[0]:
            return span
        x0, x1 = self._first.getViewBox().viewRange()[0]
        return x0 * HOUR, x1 * HOUR

    def refresh(self, force: bool = False) -> None:
        """Redraw when data or the view changed (called by the timer at ~25 Hz)."""
        data = self.data
        if data is None:
            return
        span = self._view_seconds()
        width = max(int(self._first.getViewBox().width()), 100)
        key = (data.generation, span, width)
        if not force and key == self._drawn:
            return
        self._drawn = key
        if span is not None:
            t0, t1 = span
            for stream, ch, _, _, scale in TIME_PLOTS:
                x, y = data.stores[stream].render(ch, t0, t1 if t1 > t0 else t0 + 1.0, width)
                self.curves[(stream, ch)].setData(x / HOUR, _scaled(y, scale))
            self._draw_markers(t0, t1)
        self._draw_cycles()

    def _draw_markers(self, t0: float, t1: float) -> None:
        by_kind: dict[str, list[float]] = {k: [] for k in MARKER_KINDS}
        for m in self.data.markers:
            if t0 <= m.time <= t1:
                by_kind[m.kind].append(m.time)
        for key, items in self.marker_items.items():
            for kind, item in items.items():
                times = np.asarray(by_kind[kind])
                if times.size > MAX_VISIBLE_MARKERS:
                    times = times[:: int(np.ceil(times.size / MAX_VISIBLE_MARKERS))]
                if times.size == 0:
                    item.setData([], [])
                    continue
                lo, hi = self.time_plots[key].getViewBox().viewRange()[1]
                x = np.repeat(times / HOUR, 2)
                y = np.tile([lo, hi], times.size)
                item.setData(x, y)

    def _draw_cycles(self) -> None:
        acc = self.data.cycles
        live = acc.live_curve()
        if live is not None:
            self.live_curve.setData(live[1] / C_M2_PER_MAH_CM2, live[2])
        else:
            self.live_curve.setData([], [])
        full = self.data.capacity
        drawn = (acc.closed, 0 if full is None else len(full.table))
        if drawn == self._cycles_drawn:
            return
        while len(self.cycle_curves) < len(acc.curves):
            self.cycle_curves.append(self.capacity_plot.plot())
        for item, (cycle, kind, x, y) in zip(self.cycle_curves, acc.curves, strict=False):
            style = Qt.PenStyle.SolidLine if kind == "strip" else Qt.PenStyle.DashLine
            item.setPen(pg.mkPen(pg.intColor(cycle, hues=9), width=1, style=style))
            item.setData(x / C_M2_PER_MAH_CM2, y)
        for item in self.cycle_curves[len(acc.curves) :]:
            item.setData([], [])
        if full is not None:
            self._draw_full_cell_cycles()
        else:
            table = acc.table()
            for item, y in ((self.eta_strip, table["eta_strip"]), (self.eta_plate, table["eta_plate"]),
                            (self.ce_curve, table["ce"] * 100.0)):  # fmt: skip
                ok = np.isfinite(y)
                item.setData(table["cycle"][ok], y[ok])
        self._cycles_drawn = drawn

    def _draw_full_cell_cycles(self) -> None:
        """Charge and discharge capacity and CE of each completed cycle (analysis's table)."""
        table = self.data.capacity.table
        if table.empty:
            for item in (self.q_charge, self.q_discharge, self.ce_curve):
                item.setData([], [])
            return
        suffix, _ = self.data.capacity.unit()
        cycle = table["cycle"].to_numpy(dtype=float)
        for item, y in ((self.q_charge, table[f"q_charge{suffix}"]),
                        (self.q_discharge, table[f"q_discharge{suffix}"]),
                        (self.ce_curve, table["ce"] * 100.0)):  # fmt: skip
            y = y.to_numpy(dtype=float)
            ok = np.isfinite(y)
            item.setData(cycle[ok], y[ok])

    # -- cursor ----------------------------------------------------------------------------
    def _clicked(self, event) -> None:
        for plot in self.time_plots.values():
            vb = plot.getViewBox()
            if vb.sceneBoundingRect().contains(event.scenePos()):
                t = vb.mapSceneToView(event.scenePos()).x() * HOUR
                self.set_cursor(t)
                self.time_clicked.emit(t)
                return

    def set_cursor(self, t: float | None) -> None:
        """Show the shared time cursor at run time ``t`` (s); None hides it."""
        for cursor in self.cursors:
            cursor.setVisible(t is not None)
            if t is not None:
                cursor.setPos(t / HOUR)
