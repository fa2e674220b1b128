"""The GUI on the MethodSCRIPT station: the latest spectrum appears when a sweep ends."""

from __future__ import annotations

from pathlib import Path

from gui_support import set_protocol, wait_finished

STATION = Path(__file__).resolve().parents[1] / "examples/stations/sim_eis.yaml"
PROTOCOL = """\
name: gui eis
sample: {area: 1 cm2}
sampling: {rate: 2 Hz}
limits: {voltage: {min: -1 V, max: 1 V}}
steps:
  - {type: rest, end: [{time: 5 s}]}
  - {type: eis, f_start: 100 kHz, f_end: 10 Hz, points: 11, amplitude: 10 mV}
"""


def test_latest_spectrum_shows_when_the_sweep_ends(qtbot, settings, tmp_path, monkeypatch):
    from gui.app import MainWindow

    monkeypatch.setattr("gui.app.confirm", lambda *a: True)
    win = MainWindow(settings, run_folder=tmp_path / "runs")
    qtbot.addWidget(win)
    win.show()
    assert win.station_panel.load(STATION)
    win.station_panel.speed.setValue(0)
    win.station_panel.connect_station()
    qtbot.waitUntil(lambda: win.station_panel.station is not None, timeout=20_000)
    set_protocol(win, PROTOCOL)
    assert not win.spectrum.isVisibleTo(win)
    assert win.start_run()
    wait_finished(qtbot, win, timeout=60_000)
    assert win.state == "success", win.detail_label.text()
    assert win.spectrum.isVisibleTo(win)
    assert win.spectrum.latest == 1
    assert "sweep 1 (latest, 11 points)" in win.spectrum.title.text()
    x, y = win.spectrum.current.getData()
    assert len(x) == 11 and y.max() > 0  # -Z'' > 0: a capacitive arc
