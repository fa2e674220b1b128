"""The bench window: station, protocol, run control, live plots + in situ view, run browser,
event log and notifications. The GUI thread only draws: the engine and every instrument call
run on worker threads (gui/bridge.py)."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from daq.documents import EventKind
from daq.recording import sample_metadata
from gui.bridge import RunWorker
from gui.browser import RunBrowser, link_time
from gui.event_log import EventLog
from gui.insitu import FrameSet, InSituView
from gui.live import LiveData
from gui.plots import LivePlots
from gui.protocol_panel import ProtocolPanel
from gui.spectrum import SpectrumView
from gui.station_panel import StationPanel
from protocols.pace import PaceMeter, show_pace

ORG, APP = "ssbench", "bench-gui"
SHUTDOWN_TIMEOUT_S = 60.0
STATE_STYLE = {
    "idle": "#dddddd", "running": "#b7e4b7", "pausing": "#fff0a0", "paused": "#ffd966",
    "stopping": "#fff0a0", "aborting": "#ffb3b3", "success": "#b7d7f0", "stopped": "#b7d7f0",
    "aborted": "#ffb3b3", "tripped": "#ff8080", "failed": "#ff8080",
}  # fmt: skip


def confirm(parent: QWidget, title: str, text: str) -> bool:
    """Ask yes/no (default no). Tests replace this function."""
    answer = QMessageBox.question(parent, title, text, QMessageBox.StandardButton.Yes
                                  | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)  # fmt: skip
    return answer == QMessageBox.StandardButton.Yes


def warn(parent: QWidget, title: str, text: str) -> None:
    """Show a warning the operator must acknowledge. Tests replace this function."""
    QMessageBox.warning(parent, title, text)


class MainWindow(QMainWindow):
    """See the module docstring."""

    def __init__(self, settings: QSettings | None = None, run_folder: Path | None = None) -> None:
        super().__init__()
        self.setWindowTitle("ssbench — bench")
        self.settings = settings if settings is not None else QSettings(ORG, APP)
        self.run_folder = Path(run_folder or self.settings.value("run_folder", "runs"))
        self.state = "idle"
        self.live: LiveData | None = None
        self.stream_roles: dict[str, str] = {}  # from the engine's stream descriptors
        self.frames: FrameSet | None = None
        self.last_run: Path | None = None
        self.last_result: Any = None
        self.notifications: list[str] = []

        self.station_panel = StationPanel()
        self.protocol_panel = ProtocolPanel()
        self.plots = LivePlots()
        self.insitu = InSituView()
        link_time(self.plots, self.insitu)
        self.spectrum = SpectrumView()
        self.browser = RunBrowser()
        self.event_log = EventLog()
        self.worker = RunWorker(self)
        self.worker.batch.connect(self._on_batch)
        self.worker.finished.connect(self._on_finished)
        self.station_panel.station_changed.connect(self._update_actions)
        self.station_panel.config_changed.connect(self._station_config_changed)
        self.protocol_panel.protocol_changed.connect(self._update_actions)
        self.protocol_panel.protocol_changed.connect(self._remember)

        live = QSplitter(Qt.Orientation.Horizontal)
        live.addWidget(self.plots)
        live.addWidget(self.insitu)
        live.addWidget(self.spectrum)
        live.setSizes([900, 320, 320])
        self.tabs = QTabWidget()
        self.tabs.addTab(self.station_panel, "Station")
        self.tabs.addTab(self.protocol_panel, "Protocol")
        self.tabs.addTab(live, "Live")
        self.tabs.addTab(self.browser, "Runs")

        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setVisible(False)
        dismiss = QPushButton("Dismiss")
        dismiss.clicked.connect(self.dismiss_notifications)
        self.banner_row = QWidget()
        row = QHBoxLayout(self.banner_row)
        row.setContentsMargins(6, 2, 6, 2)
        row.addWidget(self.banner, 1)
        row.addWidget(dismiss)
        self.banner_row.setVisible(False)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.banner_row)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        dock = QDockWidget("Event log", self)
        dock.setObjectName("event_log")
        dock.setWidget(self.event_log)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        self.resizeDocks([dock], [170], Qt.Orientation.Vertical)
        self.insitu.setVisible(False)  # shown when the station has a frame source
        self.spectrum.setVisible(False)  # shown when impedance sweeps arrive
        self._build_toolbar()
        self._set_state("idle")
        self._restore()

    # -- toolbar, shortcuts ----------------------------------------------------------------
    def _action(self, text: str, keys: str, slot, tip: str) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(keys))
        action.setToolTip(f"{tip} ({keys})")
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_toolbar(self) -> None:
        bar = QToolBar("Run")
        bar.setObjectName("run_toolbar")
        bar.setMovable(False)
        self.addToolBar(bar)
        self.act_connect = self._action("Connect", "Ctrl+K", self.station_panel.connect_station,
                                        "connect the station")  # fmt: skip
        self.act_start = self._action("Start", "F5", self.start_run, "start the protocol")
        self.act_pause = self._action("Pause", "F6", lambda: self.control("pause"),
                                      "pause at the next step boundary")  # fmt: skip
        self.act_pause_now = self._action("Pause now", "Shift+F6", lambda: self.control("pause_now"),
                                          "pause at once: sources off, pressure kept")  # fmt: skip
        self.act_resume = self._action("Resume", "F7", lambda: self.control("resume"), "resume")
        self.act_stop = self._action("Stop", "F8", lambda: self.control("stop"),
                                     "finish the current step, then end")  # fmt: skip
        self.act_abort = self._action("Abort", "Ctrl+Shift+A", self.abort_run,
                                      "safe state now (asks first)")  # fmt: skip
        for a in (self.act_connect, self.act_start, self.act_pause, self.act_pause_now,
                  self.act_resume, self.act_stop, self.act_abort):  # fmt: skip
            bar.addAction(a)
        bar.addSeparator()
        self.state_label = QLabel()
        self.state_label.setMinimumWidth(170)
        self.state_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.setFormat("%p%")
        self.time_label = QLabel()
        self.pace: PaceMeter | None = None  # the pace of a run on a virtual clock
        self.detail_label = QLabel()
        for w in (self.state_label, self.progress, self.time_label, self.detail_label):
            bar.addWidget(w)
        self._action("Open protocol", "Ctrl+O", self._open_protocol, "open a protocol")
        self._action("Save protocol", "Ctrl+S", self.protocol_panel.save, "save the protocol")
        self._action("Open run", "Ctrl+Shift+O", self._open_run, "open a run in the browser")
        self._action("Quit", "Ctrl+Q", self.close, "close the window")
        for k in range(self.tabs.count()):
            self._action(self.tabs.tabText(k), f"Ctrl+{k + 1}",
                         lambda _=False, k=k: self.tabs.setCurrentIndex(k), "show the tab")  # fmt: skip

    def _open_protocol(self) -> None:
        self.tabs.setCurrentWidget(self.protocol_panel)
        self.protocol_panel.open_dialog()
        self._remember()

    def _open_run(self) -> None:
        self.tabs.setCurrentWidget(self.browser)
        self.browser.open_dialog()

    # -- state -----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.worker.running or self.state in ("running", "pausing", "paused", "stopping",
                                                     "aborting")  # fmt: skip

    def _set_state(self, state: str, detail: str = "") -> None:
        self.state = state
        colour = STATE_STYLE.get(state, "#dddddd")
        self.state_label.setText(state.upper())
        self.state_label.setToolTip(detail or state)
        self.detail_label.setText(detail)
        self.state_label.setStyleSheet(f"background:{colour}; padding:3px 8px; font-weight:bold;")
        self._update_actions()

    def _update_actions(self) -> None:
        active = self.running
        can_start = (not active and self.station_panel.station is not None
                     and self.protocol_panel.protocol is not None)  # fmt: skip
        self.act_start.setEnabled(can_start)
        self.act_connect.setEnabled(self.station_panel.station is None and not active)
        self.act_pause.setEnabled(self.state == "running")
        self.act_pause_now.setEnabled(self.state in ("running", "pausing"))
        self.act_resume.setEnabled(self.state in ("paused", "pausing"))
        self.act_stop.setEnabled(self.state in ("running", "paused", "pausing"))
        self.act_abort.setEnabled(active and self.state != "aborting")
        self.protocol_panel.set_editable(not active)

    def _station_config_changed(self) -> None:
        self.protocol_panel.set_station_config(self.station_panel.config)
        self._remember()

    # -- run control -----------------------------------------------------------------------
    def start_run(self) -> bool:
        """Start the checked protocol on the connected station, recording a new run file."""
        from daq.session import run_file_name

        if self.running:
            return False
        self.protocol_panel.check_pending()  # F5 right after an edit: check the text as it is
        station, protocol = self.station_panel.station, self.protocol_panel.protocol
        if station is None:
            return False
        if protocol is None:
            self._refuse(self.protocol_panel.problems() or ["no protocol to run"])
            return False
        if not self._accepted(protocol, station):
            return False
        self.run_folder.mkdir(parents=True, exist_ok=True)
        path = self.run_folder / run_file_name(protocol)
        self.station_panel.set_run_active(True)
        self.live = LiveData(protocol.sample.area, sample=sample_metadata(protocol))
        self.stream_roles = {}
        self.plots.set_data(self.live)
        source = station.frame_source
        self.insitu.setVisible(source is not None)
        self.frames = FrameSet(path, source.name) if source is not None else None
        self.insitu.set_frames(self.frames)
        self.event_log.clear()
        self.dismiss_notifications()
        self.progress.setValue(0)
        self.pace = PaceMeter() if station.clock.is_virtual else None
        self.last_run, self.last_result = path, None
        self.worker.start(protocol, self.protocol_panel.text, station, path)
        self._set_state("running")
        self.statusBar().showMessage(f"recording to {path}")
        self.tabs.setCurrentIndex(2)
        self._remember()
        return True

    def _accepted(self, protocol: Any, station: Any) -> bool:
        """The check ``ssbench run`` makes before starting (protocols/cli.py ``_run``), here on
        the connected station; problems are listed in the protocol panel and refused."""
        from protocols.validate import validate

        problems = validate(protocol, station).problems
        if problems:
            self.protocol_panel.show_refusal(problems)
            self._refuse(problems)
        return not problems

    def _refuse(self, problems: list[str]) -> None:
        """Say why the run was not started: event log (one row each), status bar, a warning."""
        for problem in problems:
            self.event_log.add(0.0, "not_started", -1, problem)
        self.tabs.setCurrentWidget(self.protocol_panel)
        self.statusBar().showMessage(f"not started: {len(problems)} problem(s)")
        warn(self, "Run not started", "The run was not started:\n" + "\n".join(problems))

    def control(self, action: str) -> None:
        """pause / pause_now / resume / stop for the running engine."""
        said = self.worker.control(action)
        if said:
            self.statusBar().showMessage(said, 5000)

    def abort_run(self) -> None:
        if not self.running:
            return
        if confirm(self, "Abort the run?", "Abort now? Outputs go to the safe state and the run "
                   "ends as 'aborted' (the data so far is kept)."):  # fmt: skip
            self.worker.control("abort")

    # -- engine output (GUI thread, coalesced) ---------------------------------------------
    def _on_batch(self, items: list) -> None:
        if self.live is None:
            return
        progress = None
        readings: dict[str, dict[str, float]] = {}
        new_frames = False
        for what, payload in items:
            if what == "samples" and payload[0] == "impedance":
                self.spectrum.add_samples(payload[1])  # spectra: their own view, not traces
                self.spectrum.setVisible(True)
            elif what == "samples":
                stream, data = payload
                self.live.add_samples(stream, data)
                readings[self.stream_roles.get(stream, stream)] = {
                    k: float(data[k][-1]) for k in ("voltage", "current", "pressure", "force", "temperature")
                    if k in data and len(data[k])}  # fmt: skip
            elif what == "start":
                self._on_start(payload)
            elif what == "event":
                self._on_event(payload)
            elif what == "state":
                self._on_state(payload)
            elif what == "progress":
                progress = payload
            elif what == "frame" and self.frames is not None:
                _, t, image = payload
                self.frames.add(t, image)
                new_frames = True
        if new_frames:
            self.insitu.frame_added()
        if readings:
            self.station_panel.show_run_readings(readings)
        if progress is not None:
            self._on_progress(progress)

    def _on_start(self, descriptors: list[Any]) -> None:
        """The engine's stream descriptors: plot those streams, map each to its role."""
        self.stream_roles = {d.name: d.role for d in descriptors}
        self.plots.set_streams(tuple(self.stream_roles))

    def _on_event(self, event: Any) -> None:
        self.event_log.add(event.time, event.kind, event.step, event.text)
        self.live.add_event(event.time, event.kind, event.text, event.data)
        if event.kind == EventKind.EIS and self.spectrum.sweeps:
            self.spectrum.sweep_ended(max(self.spectrum.sweeps), event.text)
        if event.kind == EventKind.LIMIT_TRIP:
            self.notify(f"SAFETY TRIP at t = {event.time:.1f} s: {event.text}", "#ff8080")
        elif event.kind == EventKind.DETECTOR and "short" in str(event.data.get("event", "")):
            self.notify(f"SHORT detected at t = {event.time:.1f} s: {event.text}", "#ffb3b3")
        elif event.kind == EventKind.SAFE_STATE_FAILED:
            self.notify(f"SAFE STATE FAILED: {event.text}", "#ff8080")
        elif event.kind == EventKind.FAULT:
            self.notify(f"INSTRUMENT FAULT at t = {event.time:.1f} s: {event.text}", "#ffb3b3")

    def _on_state(self, state: Any) -> None:
        """The engine's run state; once finished, the exit status is shown (``_on_finished``)."""
        if state != "finished":
            self._set_state(str(state))

    def _on_progress(self, progress: Any) -> None:
        self.progress.setValue(int(round(progress.fraction * 100)))
        pace = show_pace(self.pace.add(progress.elapsed)) if self.pace is not None else ""
        self.time_label.setText(f" {progress.elapsed / 3600:.2f} h of "
                                f"{progress.expected / 3600:.2f} h" + (f" · {pace}" if pace else ""))  # fmt: skip

    def _on_finished(self) -> None:
        output, error = self.worker.output, self.worker.error
        self.worker.flush()
        if self.live is not None:
            self.live.finish()
        self.station_panel.set_run_active(False)
        if output is None:
            self._set_state("failed", error)
            self.notify(f"Run failed: {error}", "#ff8080")
        else:
            result = output.result
            self.last_result = result
            self._set_state(result.status, result.reason)
            colour = "#b7d7f0" if result.status in ("success", "stopped") else "#ffb3b3"
            self.notify(
                f"Run ended: {result.status} ({result.reason}). File: {output.path}", colour
            )
            self.progress.setValue(100 if result.status == "success" else self.progress.value())
        QApplication.alert(self)

    # -- notifications ---------------------------------------------------------------------
    def notify(self, text: str, colour: str) -> None:
        """Banner at the top of the window (stays until dismissed) and the status bar."""
        self.notifications.append(text)
        self.banner.setText("\n".join(self.notifications[-4:]))
        self.banner_row.setStyleSheet(f"background:{colour};")
        self.banner.setVisible(True)
        self.banner_row.setVisible(True)
        self.statusBar().showMessage(text)

    def dismiss_notifications(self) -> None:
        self.notifications.clear()
        self.banner_row.setVisible(False)

    # -- settings and shutdown -------------------------------------------------------------
    def _remember(self) -> None:
        if self.station_panel.path is not None:
            self.settings.setValue("last_station", str(self.station_panel.path))
        if self.protocol_panel.path is not None:
            self.settings.setValue("last_protocol", str(self.protocol_panel.path))
        self.settings.setValue("run_folder", str(self.run_folder))

    def _restore(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        station = self.settings.value("last_station")
        if station and Path(station).exists():
            self.station_panel.load(Path(station))
        protocol = self.settings.value("last_protocol")
        if protocol and Path(protocol).exists():
            self.protocol_panel.load(Path(protocol))

    def shutdown_run(self, timeout: float = SHUTDOWN_TIMEOUT_S) -> bool:
        """Abort a running run and wait (events keep flowing) until its file is closed."""
        if not self.worker.running:
            return True
        self.worker.control("abort")
        deadline = time.monotonic() + timeout
        while self.worker.running and time.monotonic() < deadline:
            QApplication.processEvents()
            self.worker.join(0.05)
        QApplication.processEvents()
        return not self.worker.running

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self.worker.running:
            if not confirm(self, "A run is in progress", "Abort the run (safe state, data kept) "
                           "and close the window?"):  # fmt: skip
                event.ignore()
                return
            if not self.shutdown_run():
                self.notify("the run did not end in time; not closing", "#ff8080")
                event.ignore()
                return
        self._remember()
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.sync()
        station = self.station_panel.station
        if station is not None:
            self.station_panel.station = None
            self.station_panel.worker.close(station)
        self.station_panel.worker.shutdown()
        self.plots.timer.stop()
        self.browser.plots.timer.stop()
        event.accept()


def main(station: str | None = None, protocol: str | None = None, run: str | None = None,
         simulate: bool = False, out: str | None = None, connect: bool = False,
         speed: float | None = None) -> int:  # fmt: skip
    """Open the bench window (``ssbench gui``); ``speed``: the simulation speed control."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORG)
    app.setApplicationName(APP)
    window = MainWindow(run_folder=Path(out) if out else None)
    window.station_panel.simulate.setChecked(simulate)
    if speed is not None:
        window.station_panel.speed.setValue(speed)
    if station:
        window.station_panel.load(Path(station))
    if protocol:
        window.protocol_panel.load(Path(protocol))
    if run:
        window.browser.open(Path(run))
        window.tabs.setCurrentWidget(window.browser)
    window.resize(1400, 900)
    window.show()
    # Ctrl-C in the terminal closes the window the normal way (asks during a run); the timer
    # lets the interpreter run its signal handlers while Qt's event loop is in control
    signal.signal(signal.SIGINT, lambda *_: window.close())
    # SIGTERM / SIGHUP (a kill, a closed session): abort any run to the safe state, no question
    for signum in (signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])):
        signal.signal(signum, lambda *_: window.shutdown_run() and window.close())
    ticker = QTimer(window)
    ticker.timeout.connect(lambda: None)
    ticker.start(250)
    if connect:
        window.station_panel.connect_station()
    return app.exec()
