"""Suite-wide test settings and shared fixtures.

Hypothesis: no per-example deadline (the suite runs on a shared 2-core machine where timing is
noise, and speed is measured in bench/, not asserted), and derandomized on CI so a run is
repeatable; local runs keep exploring new examples.

GUI fixtures: ``settings`` (QSettings in a temp file) and ``window`` (the main window connected
to ``gui_station``, the built-in simulated station unless a test parametrizes it:
``@pytest.mark.parametrize("gui_station", [path])``).
"""

import os

import pytest
from hypothesis import settings as hypothesis_settings

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

hypothesis_settings.register_profile("ssbench", deadline=None)
hypothesis_settings.register_profile("ssbench-ci", deadline=None, derandomize=True, print_blob=True)
hypothesis_settings.load_profile("ssbench-ci" if os.environ.get("CI") else "ssbench")


@pytest.fixture
def settings(tmp_path):
    """QSettings in a temp INI file, so tests never touch the user's settings."""
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def gui_station():
    """The station file the ``window`` fixture connects to (parametrize to change it)."""
    from gui.station_panel import BUILTIN_STATION

    return BUILTIN_STATION


@pytest.fixture
def window(qtbot, settings, tmp_path, monkeypatch, gui_station):
    """Main window connected to ``gui_station`` (simulated twins, virtual clock, full speed).

    Questions are answered "yes" and warnings dismissed unless a test says otherwise: pytest-qt
    closes the window before fixtures are torn down, and a modal dialog would block offscreen.
    """
    from gui.app import MainWindow

    monkeypatch.setattr("gui.app.confirm", lambda *a: True)
    monkeypatch.setattr("gui.app.warn", lambda *a: None)

    win = MainWindow(settings, run_folder=tmp_path / "runs")
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    assert win.station_panel.load(gui_station)
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
