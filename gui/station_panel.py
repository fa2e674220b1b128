"""Station panel: pick a station file (or the built-in simulated one), connect / disconnect,
see each instrument's role, identity, connection state and live reading; errors inline."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.bridge import StationWorker

BUILTIN_STATION = Path(__file__).resolve().parent.parent / "examples" / "stations" / "sim.yaml"
COLUMNS = ("instrument", "role", "driver", "resource", "state", "identity", "reading")
POLL_MS = 1000
#: run seconds per wall second the simulation speed control offers (0 = as fast as possible)
SPEED_RANGE = (0.01, 1e6)


def format_reading(values: dict[str, float]) -> str:
    """'V 0.012 V  I 0.100 mA' etc. from SI floats."""
    if "error" in values:
        return f"error: {values['error']}"
    parts = []
    for key, label, unit, scale, offset in (
        ("voltage", "V", "V", 1.0, 0.0),
        ("current", "I", "mA", 1e3, 0.0),
        ("pressure", "P", "MPa", 1e-6, 0.0),
        ("force", "F", "N", 1.0, 0.0),
        ("temperature", "T", "°C", 1.0, -273.15),
    ):
        if key in values and not math.isnan(values[key]):
            parts.append(f"{label} {values[key] * scale + offset:.4g} {unit}")
    return "  ".join(parts)


class StationPanel(QWidget):
    """Station file, connection and the instrument table."""

    station_changed = Signal()  # see ``station`` (None when disconnected)
    config_changed = Signal()  # see ``config`` (None when the file is invalid)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.config: Any = None
        self.station: Any = None
        self.path: Path | None = None
        self.run_active = False
        self.worker = StationWorker(self)
        self.worker.opened.connect(self._opened)
        self.worker.failed.connect(self._failed)
        self.worker.closed.connect(self._closed)
        self.worker.readings.connect(self._show_readings)

        self.path_edit = QLineEdit(readOnly=True)
        browse = QPushButton("Open…")
        browse.clicked.connect(self._browse)
        builtin = QPushButton("Built-in simulated")
        builtin.clicked.connect(lambda: self.load(BUILTIN_STATION))
        self.simulate = QCheckBox("simulate every instrument (sim://)")
        self.speed = QDoubleSpinBox(minimum=0.0, maximum=SPEED_RANGE[1], decimals=2, value=60.0)
        self.speed.setSuffix(" × real time")
        self.speed.setSpecialValueText("as fast as possible")
        self.speed.setToolTip("Virtual clock speed of simulated stations")
        self.connect_button = QPushButton("Connect")
        self.connect_button.clicked.connect(self.connect_station)
        self.disconnect_button = QPushButton("Disconnect")
        self.disconnect_button.clicked.connect(self.disconnect_station)
        self.state_label = QLabel("not connected")
        self.error_label = QLabel(wordWrap=True)
        self.error_label.setStyleSheet("color: #b00020;")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)

        top = QHBoxLayout()
        top.addWidget(self.path_edit, 1)
        top.addWidget(browse)
        top.addWidget(builtin)
        form = QFormLayout()
        form.addRow("station file", top)
        form.addRow("", self.simulate)
        form.addRow("simulation speed", self.speed)
        buttons = QHBoxLayout()
        buttons.addWidget(self.connect_button)
        buttons.addWidget(self.disconnect_button)
        buttons.addWidget(self.state_label, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.error_label)
        layout.addWidget(self.table, 1)
        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(POLL_MS)
        self.poll_timer.timeout.connect(self._poll)
        self._update_buttons()

    # -- station file ----------------------------------------------------------------------
    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Station file", "", "YAML (*.yaml *.yml)")
        if path:
            self.load(Path(path))

    def load(self, path: Path) -> bool:
        """Read and validate a station file; problems are shown inline, not raised."""
        from daq.station import load_station_config
        from daq.yamlconfig import ConfigError

        if self.station is not None:
            self.error_label.setText("disconnect before loading another station")
            return False
        self.path = Path(path)
        self.path_edit.setText(str(path))
        try:
            self.config = load_station_config(path)
        except (ConfigError, OSError) as exc:
            self.config = None
            self.error_label.setText(str(exc))
            self.table.setRowCount(0)
            self.config_changed.emit()
            self._update_buttons()
            return False
        self.error_label.setText("")
        self._fill_table()
        self.config_changed.emit()
        self._update_buttons()
        return True

    def _fill_table(self) -> None:
        instruments = self.config.instruments
        self.table.setRowCount(len(instruments))
        for row, (name, inst) in enumerate(instruments.items()):
            resource = inst.resource if isinstance(inst.resource, str) else ", ".join(
                f"{k}={v}" for k, v in inst.resource.items())  # fmt: skip
            for col, text in enumerate(
                (name, inst.role, inst.driver, resource, "disconnected", "", "")
            ):
                self.table.setItem(row, col, QTableWidgetItem(text))

    def _row(self, name: str) -> int:
        return list(self.config.instruments).index(name)

    def _set(self, name: str, column: str, text: str) -> None:
        self.table.item(self._row(name), COLUMNS.index(column)).setText(text)

    # -- connection ------------------------------------------------------------------------
    def connect_station(self) -> None:
        """Open every instrument on the station worker thread."""
        if self.config is None or self.station is not None:
            return
        self.error_label.setText("")
        self.state_label.setText("connecting…")
        for name in self.config.instruments:
            self._set(name, "state", "connecting…")
        speed = self.speed.value() or None
        self.connect_button.setEnabled(False)
        self.worker.open(self.config, self.simulate.isChecked(), speed)

    def disconnect_station(self) -> None:
        if self.station is None or self.run_active:
            return
        self.poll_timer.stop()
        self.state_label.setText("disconnecting…")
        station, self.station = self.station, None
        self.station_changed.emit()
        self.worker.close(station)
        self._update_buttons()

    def _opened(self, station: Any) -> None:
        self.station = station
        for name, instrument in station.instruments.items():
            self._set(name, "state", "connected")
            self._set(name, "identity", instrument.identity())
        simulated = " (simulated, virtual clock)" if station.lab is not None else ""
        self.state_label.setText(f"connected: {station.config.name}{simulated}")
        self.poll_timer.start()
        self.station_changed.emit()
        self._update_buttons()

    def _failed(self, message: str) -> None:
        self.error_label.setText(f"connect failed: {message}")
        self.state_label.setText("not connected")
        for name in self.config.instruments:
            self._set(name, "state", "failed")
        self._update_buttons()

    def _closed(self) -> None:
        self.state_label.setText("not connected")
        if self.config is not None:
            for name in self.config.instruments:
                self._set(name, "state", "disconnected")
                self._set(name, "reading", "")
        self._update_buttons()

    def _update_buttons(self) -> None:
        connected = self.station is not None
        self.connect_button.setEnabled(self.config is not None and not connected)
        self.disconnect_button.setEnabled(connected and not self.run_active)

    def set_run_active(self, active: bool) -> None:
        """While a run owns the instruments the panel stops polling them."""
        self.run_active = active
        if active:
            self.poll_timer.stop()
            self.worker.quiesce()
        elif self.station is not None:
            self.poll_timer.start()
        self._update_buttons()

    # -- readings --------------------------------------------------------------------------
    def _poll(self) -> None:
        if self.station is not None and not self.run_active:
            self.worker.poll(self.station)

    def _show_readings(self, readings: dict) -> None:
        if self.station is None or self.run_active:
            return
        for name, values in readings.items():
            self._set(name, "reading", format_reading(values))
            self._set(name, "state", "error" if "error" in values else "connected")

    def show_run_readings(self, values_by_role: dict[str, dict[str, float]]) -> None:
        """Latest values from the running engine (the run owns the instruments)."""
        if self.config is None:
            return
        for name, inst in self.config.instruments.items():
            if inst.role in values_by_role:
                self._set(name, "reading", format_reading(values_by_role[inst.role]))
                self._set(name, "state", "in run")
