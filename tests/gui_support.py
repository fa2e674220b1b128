"""Shared pieces of the GUI tests: an offscreen window on the built-in simulated station."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

CYCLING = """\
name: gui cycling
sample: {area: 1 cm2, electrolyte: LLZO}
sampling: {rate: 10 Hz, slow_rate: 2 Hz}
limits:
  voltage: {min: -1.5 V, max: 1.5 V}
steps:
  - type: plating_stripping
    current_density: 0.2 mA/cm2
    cycles: CYCLES
    half_cycle_time: 10 s
    rest: 2 s
"""

TRIP = """\
name: gui trip
sample: {area: 1 cm2}
limits:
  voltage: {min: -0.05 V, max: 0.05 V}
steps:
  - {type: rest, end: [{time: 2 s}]}
  - {type: galvanostatic, current_density: 1 mA/cm2, end: [{time: 30 s}]}
"""


def cycling(cycles: int) -> str:
    return CYCLING.replace("CYCLES", str(cycles))


@pytest.fixture
def settings(tmp_path):
    """QSettings in a temp INI file, so tests never touch the user's settings."""
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings, tmp_path, monkeypatch):
    """Main window connected to the built-in simulated station (virtual clock, full speed).

    Questions are answered "yes" and warnings dismissed unless a test says otherwise: pytest-qt
    closes the window before fixtures are torn down, and a modal dialog would block offscreen.
    """
    from gui.app import MainWindow
    from gui.station_panel import BUILTIN_STATION

    monkeypatch.setattr("gui.app.confirm", lambda *a: True)
    monkeypatch.setattr("gui.app.warn", lambda *a: None)

    win = MainWindow(settings, run_folder=tmp_path / "runs")
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    assert win.station_panel.load(BUILTIN_STATION)
    win.station_panel.speed.setValue(0)
    win.station_panel.connect_station()
    qtbot.waitUntil(lambda: win.station_panel.station is not None, timeout=20_000)
    yield win
    if win.worker.running:
        win.shutdown_run()
    station = win.station_panel.station
    if station is not None:
        win.station_panel.station = None
        station.close()
    win.station_panel.worker.shutdown()


def set_protocol(win, text: str) -> None:
    win.protocol_panel.editor.setPlainText(text)
    win.protocol_panel.validate_now()
    assert win.protocol_panel.protocol is not None, win.protocol_panel.status.text()


def wait_finished(qtbot, win, timeout: int = 30_000) -> None:
    qtbot.waitUntil(lambda: not win.worker.running and win.state not in
                    ("running", "pausing", "paused", "stopping", "aborting"), timeout=timeout)  # fmt: skip


def screenshot_targets(tmp_path: Path) -> list[Path]:
    """Always tmp_path; also $SSBENCH_SCREENSHOT when set (docs/img/gui-main.png is made so)."""
    targets = [tmp_path / "gui-main.png"]
    if os.environ.get("SSBENCH_SCREENSHOT"):
        targets.append(Path(os.environ["SSBENCH_SCREENSHOT"]))
    return targets
