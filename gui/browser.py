"""Run browser: open a past run (our HDF5) or an imported cycler export; metadata, events,
traces and frames, impedance spectra (Nyquist / Bode with the fit, when the run has an
``impedance`` stream), the analysis headline and figures (display units); export the streams
as CSV and the plots as PNG."""

from __future__ import annotations

import json
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.event_log import EventLog
from gui.insitu import FrameSet, InSituView
from gui.live import LiveData
from gui.plots import LivePlots
from gui.spectrum import SpectrumView

CHUNK = 1 << 20
RUN_FILTER = (
    "Runs and exports (*.h5 *.hdf5 *.mpt *.mpr *.csv *.txt *.tsv *.xlsx *.xls *.parquet *.res);;"
    "All files (*)"
)


def link_time(plots: LivePlots, insitu: InSituView) -> None:
    """A click in the plots shows the frame at that time; a chosen frame moves the cursor."""
    plots.time_clicked.connect(insitu.show_time)
    insitu.time_chosen.connect(plots.set_cursor)


def live_data_from_run(run: Any) -> LiveData:
    """Feed a loaded RunData into the same bounded stores the live view uses."""
    sample = run.metadata.get("sample") or {}
    area = sample.get("area_m2")
    data = LiveData(float(area) if area else None, sample=sample)
    for ev in run.events.itertuples(index=False):
        data.add_event(float(ev.time), str(ev.kind), str(ev.message), ev.data)
    for name, df in run.streams.items():
        if name not in data.stores or "time" not in df:
            continue
        cols = {c: df[c].to_numpy() for c in df.columns}
        for a in range(0, len(df), CHUNK):
            data.add_samples(name, {c: v[a : a + CHUNK] for c, v in cols.items()})
    data.finish()
    return data


def _tree(parent: QTreeWidgetItem | QTreeWidget, value: Any, key: str = "") -> None:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            value = json.loads(value)
        except ValueError:
            pass
    if isinstance(value, dict):
        node = QTreeWidgetItem(parent, [key, ""]) if key else parent
        for k, v in value.items():
            _tree(node, v, str(k))
    elif isinstance(value, list) and value and isinstance(value[0], dict | list):
        node = QTreeWidgetItem(parent, [key, f"{len(value)} items"])
        for k, v in enumerate(value):
            _tree(node, v, str(k))
    else:
        text = str(value)
        QTreeWidgetItem(parent, [key, text if len(text) < 300 else text[:300] + "…"])


class _Analysis(QObject):
    """Runs the offline analysis and figures on a worker thread."""

    done = Signal(object, str)  # dict name -> png path, error text
    result = Signal(str)  # the report's headline, in display units

    def start(self, run: Any, folder: Path) -> None:
        threading.Thread(target=self._body, args=(run, folder), daemon=True).start()

    def _body(self, run: Any, folder: Path) -> None:
        from analysis.figures import all_figures
        from analysis.pipeline import analyze_run
        from analysis.report import headline

        try:
            res = analyze_run(run)
            self.result.emit("; ".join(headline(res)))
            figures = all_figures(run, res, folder)
        except Exception as exc:  # noqa: BLE001 - shown in the browser, never a traceback
            self.done.emit({}, f"analysis failed: {type(exc).__name__}: {exc}")
            return
        self.done.emit(figures, "")


class RunBrowser(QWidget):
    """Open, inspect and export runs."""

    opened = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run: Any = None
        self.path: Path | None = None
        self._figdir = tempfile.TemporaryDirectory(prefix="ssbench-gui-figures-")
        self.figures: dict[str, Path] = {}
        open_button = QPushButton("Open run…")
        open_button.clicked.connect(self.open_dialog)
        self.export_csv_button = QPushButton("Export CSV…")
        self.export_csv_button.clicked.connect(self.export_csv_dialog)
        self.export_png_button = QPushButton("Export PNG…")
        self.export_png_button.clicked.connect(self.export_png_dialog)
        self.analyse_button = QPushButton("Analyse (figures)")
        self.analyse_button.clicked.connect(self.analyse)
        self.label = QLabel("no run open")
        self.label.setWordWrap(True)
        self.error = QLabel(wordWrap=True)
        self.error.setStyleSheet("color: #b00020;")
        top = QHBoxLayout()
        for w in (open_button, self.analyse_button, self.export_csv_button, self.export_png_button):
            top.addWidget(w)
        top.addWidget(self.label, 1)

        self.meta = QTreeWidget()
        self.meta.setHeaderLabels(["key", "value"])
        self.meta.setColumnWidth(0, 220)
        self.events = EventLog()
        self.plots = LivePlots()
        self.insitu = InSituView()
        link_time(self.plots, self.insitu)
        traces = QSplitter(Qt.Orientation.Horizontal)
        traces.addWidget(self.plots)
        traces.addWidget(self.insitu)
        traces.setSizes([800, 300])
        self.figure_list = QListWidget()
        self.figure_list.currentTextChanged.connect(self._show_figure)
        self.figure_view = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        scroll = QScrollArea()
        scroll.setWidget(self.figure_view)
        scroll.setWidgetResizable(True)
        figs = QSplitter(Qt.Orientation.Horizontal)
        figs.addWidget(self.figure_list)
        figs.addWidget(scroll)
        figs.setSizes([160, 800])
        self.spectra = SpectrumView()
        self.tabs = QTabWidget()
        self.tabs.addTab(traces, "Traces")
        self.tabs.addTab(self.meta, "Metadata")
        self.tabs.addTab(self.events, "Events")
        self.tabs.addTab(figs, "Figures")
        self.tabs.addTab(self.spectra, "Spectra")
        self.tabs.setTabVisible(self.tabs.indexOf(self.spectra), False)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.error)
        self.result = QLabel(wordWrap=True)
        layout.addWidget(self.result)
        layout.addWidget(self.tabs, 1)
        self._analysis = _Analysis(self)
        self._analysis.done.connect(self._figures_done)
        self._analysis.result.connect(self.result.setText)
        self._set_enabled(False)

    def _set_enabled(self, on: bool) -> None:
        for b in (self.export_csv_button, self.export_png_button, self.analyse_button):
            b.setEnabled(on)

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open run", "", RUN_FILTER)
        if path:
            self.open(Path(path))

    def open(self, path: Path) -> bool:
        """Load ``path`` (run file or importable export); problems are shown, not raised."""
        from analysis.errors import AnalysisError
        from analysis.load import load_run

        try:
            run = load_run(path)
        except (AnalysisError, OSError, ValueError) as exc:
            self.error.setText(f"cannot open {path}: {exc}")
            return False
        self.error.setText("")
        self.run, self.path = run, Path(path)
        md = run.metadata
        status = md.get("exit_status", "imported")
        n = len(run.electro) if "electro" in run.streams else 0
        self.label.setText(
            f"{path.name}: {status} {md.get('exit_reason', '')} — {n:,} electro samples"
        )
        self.meta.clear()
        _tree(self.meta, {k: v for k, v in md.items()})
        self.events.clear()
        for ev in run.events.itertuples(index=False):
            step = -1 if ev.step is None or ev.step != ev.step else int(ev.step)
            self.events.add(float(ev.time), str(ev.kind), step, str(ev.message))
        self.plots.set_streams(tuple(run.streams))
        self.plots.set_data(live_data_from_run(run))
        frames = self._frames(Path(path))
        self.insitu.set_frames(frames)
        self.insitu.setVisible(frames is not None)
        impedance = run.streams.get("impedance")
        has_spectra = impedance is not None and not impedance.empty
        if has_spectra:
            self.spectra.show_stream(impedance)
        self.tabs.setTabVisible(self.tabs.indexOf(self.spectra), has_spectra)
        self.figure_list.clear()
        self.figure_view.clear()
        self._set_enabled(True)
        self.opened.emit(str(path))
        return True

    @staticmethod
    def _frames(path: Path) -> FrameSet | None:
        from daq.runfile import RunFileError, RunReader

        if path.suffix.lower() not in (".h5", ".hdf5"):
            return None
        try:
            with RunReader(path) as reader:
                for source in reader.frame_sources:
                    times = reader.frame_times(source)
                    if len(times):
                        return FrameSet.recorded(path, source, times)
        except RunFileError:
            return None
        return None

    # -- analysis figures ------------------------------------------------------------------
    def analyse(self) -> None:
        if self.run is None:
            return
        self.analyse_button.setEnabled(False)
        self.label.setText(self.label.text() + " — analysing…")
        folder = Path(self._figdir.name) / (self.path.stem if self.path else "run")
        self._analysis.start(self.run, folder)

    def _figures_done(self, figures: dict, error: str) -> None:
        self.analyse_button.setEnabled(True)
        self.label.setText(self.label.text().replace(" — analysing…", ""))
        if error:
            self.error.setText(error)
            return
        self.figures = dict(figures)
        self.figure_list.clear()
        self.figure_list.addItems(list(self.figures))
        if self.figures:
            self.figure_list.setCurrentRow(0)
            self.tabs.setCurrentIndex(3)

    def _show_figure(self, name: str) -> None:
        if name in self.figures:
            self.figure_view.setPixmap(QPixmap(str(self.figures[name])))

    # -- export ----------------------------------------------------------------------------
    def export_csv_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export CSV into folder")
        if folder:
            self.export_csv(Path(folder))

    def export_csv(self, folder: Path) -> list[Path]:
        """One CSV per stream (SI units in the header) and one for the events."""
        folder.mkdir(parents=True, exist_ok=True)
        stem = self.path.stem if self.path else "run"
        written = []
        for name, df in self.run.streams.items():
            units = df.attrs.get("units") or {}
            out = df.rename(
                columns={c: f"{c} ({units[c]})" if units.get(c) else c for c in df.columns}
            )
            path = folder / f"{stem}_{name}.csv"
            out.to_csv(path, index=False)
            written.append(path)
        path = folder / f"{stem}_events.csv"
        self.run.events.to_csv(path, index=False)
        written.append(path)
        self.label.setText(f"exported {len(written)} CSV files to {folder}")
        return written

    def export_png_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export PNG", "", "PNG (*.png)")
        if path:
            self.export_png(Path(path))

    def export_png(self, path: Path) -> Path:
        """The traces as shown (plots and frame) as a PNG."""
        self.tabs.widget(0).grab().save(str(path), "PNG")
        for name, fig in self.figures.items():
            target = path.with_name(f"{path.stem}_{name}.png")
            target.write_bytes(Path(fig).read_bytes())
        return path

    def data_points(self) -> int:
        """Electro samples loaded (for the status line and tests)."""
        return int(np.sum([len(df) for n, df in self.run.streams.items() if n == "electro"]))
