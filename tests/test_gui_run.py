"""GUI end to end on the simulated station: start, pause, resume, abort, trip, run file, browser."""

from __future__ import annotations

import numpy as np
from gui_support import TRIP, cycling, screenshot_targets, set_protocol, wait_finished


def _kinds(win) -> list[str]:
    return [row[1] for row in win.event_log.rows()]


def test_pause_resume_abort_from_the_window(window, qtbot, monkeypatch):
    from daq.runfile import RunReader

    set_protocol(window, cycling(40))
    assert window.act_start.isEnabled()
    window.act_start.trigger()
    assert window.state == "running"
    assert not window.act_start.isEnabled()
    assert window.protocol_panel.editor.isReadOnly()
    qtbot.waitUntil(lambda: window.live.stores["electro"].total > 50, timeout=20_000)
    window.act_pause.trigger()
    qtbot.waitUntil(lambda: window.state == "paused", timeout=20_000)
    assert "pause" in _kinds(window)
    assert window.act_resume.isEnabled()
    window.act_resume.trigger()
    qtbot.waitUntil(lambda: window.state == "running", timeout=20_000)
    asked = []
    monkeypatch.setattr("gui.app.confirm", lambda *a: asked.append(a[1]) or False)
    window.act_abort.trigger()  # the operator says no: the run goes on
    assert asked and window.worker.running
    monkeypatch.setattr("gui.app.confirm", lambda *a: True)
    window.act_abort.trigger()
    wait_finished(qtbot, window)
    assert window.state == "aborted"
    assert {"resume", "abort", "run_end"} <= set(_kinds(window))
    with RunReader(window.last_run) as reader:
        assert reader.status == "aborted"
        rows = reader.stream_length("electro")
        kinds = set(reader.events()["kind"])
        described = {name: d.role for name, d in reader.descriptors().items()}
    assert rows == window.live.stores["electro"].total > 0
    # the window plots and maps to roles the streams the engine described (and the file holds)
    assert window.stream_roles == described and described["electro"] == "potentiostat"
    assert set(window.plots.shown_streams) == set(described)
    assert {"pause", "resume", "abort", "run_end"} <= kinds
    assert not window.protocol_panel.editor.isReadOnly()
    assert window.station_panel.disconnect_button.isEnabled()


def test_trip_shows_in_log_and_banner(window, qtbot):
    from daq.runfile import RunReader

    set_protocol(window, TRIP)
    assert window.start_run()
    wait_finished(qtbot, window)
    assert window.state == "tripped"
    window.event_log.kind_combo.setCurrentText("important only")
    shown = window.event_log.rows()
    assert any(kind == "limit_trip" for _, kind, _, _ in shown)
    assert all(kind != "step_start" for _, kind, _, _ in shown)
    assert window.banner_row.isVisible() and "SAFETY TRIP" in window.banner.text()
    assert any(m.kind == "trip" for m in window.live.markers)
    with RunReader(window.last_run) as reader:
        assert reader.status == "tripped"
        assert "limit_trip" in set(reader.events()["kind"])


def test_complete_run_file_and_browser(window, qtbot, tmp_path):
    from daq.runfile import RunReader

    set_protocol(window, cycling(2))
    assert window.start_run()
    wait_finished(qtbot, window)
    assert window.state == "success"
    with RunReader(window.last_run) as reader:
        assert reader.status == "success"
        assert reader.stream_length("electro") == window.live.stores["electro"].total
        assert reader.protocol["source"] == window.protocol_panel.text
    table = window.live.cycles.table()
    assert list(table["cycle"]) == [1.0, 2.0]
    assert np.all(np.abs(table["ce"] - 1.0) < 0.02)  # symmetric cycling: CE ~ 100 %
    browser = window.browser
    assert browser.open(window.last_run)
    assert browser.events.model.rowCount() == len(window.event_log.rows())
    assert browser.plots.data.stores["electro"].total == window.live.stores["electro"].total
    assert not browser.tabs.isTabVisible(browser.tabs.indexOf(browser.spectra))  # no impedance
    written = browser.export_csv(tmp_path / "csv")
    assert {p.name.split("_")[-1] for p in written} >= {"electro.csv", "events.csv"}
    header = written[0].read_text().splitlines()[0]
    assert "voltage (V)" in header
    browser.analyse()  # offline analysis + figures on a worker thread
    qtbot.waitUntil(lambda: browser.analyse_button.isEnabled(), timeout=60_000)
    assert browser.error.text() == ""
    assert "voltage" in browser.figures and browser.figure_list.count() == len(browser.figures)
    assert browser.result.text()  # the report's headline, shown with the figures
    png = browser.export_png(tmp_path / "traces.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "traces_voltage.png").exists()


def test_browser_reports_a_bad_file(window, tmp_path):
    bad = tmp_path / "not-a-run.h5"
    bad.write_bytes(b"nothing here")
    assert not window.browser.open(bad)
    assert "cannot open" in window.browser.error.text()


def test_close_during_run_asks_then_shuts_down(window, qtbot, monkeypatch):
    from daq.runfile import RunReader

    set_protocol(window, cycling(40))
    assert window.start_run()
    qtbot.waitUntil(lambda: window.live.stores["electro"].total > 20, timeout=20_000)
    monkeypatch.setattr("gui.app.confirm", lambda *a: False)
    window.close()
    assert window.isVisible() and window.worker.running
    monkeypatch.setattr("gui.app.confirm", lambda *a: True)
    window.close()
    assert not window.isVisible() and not window.worker.running
    with RunReader(window.last_run) as reader:
        assert reader.status == "aborted"


def test_screenshot_of_a_run(window, qtbot, tmp_path):
    # long enough (80 min of run) not to finish between two looks at the window
    under_pressure = cycling(200).replace(
        "steps:\n", "steps:\n  - {type: set_pressure, pressure: 3 MPa}\n"
    )
    set_protocol(window, under_pressure)
    assert window.start_run()
    qtbot.waitUntil(lambda: window.live.cycles.closed >= 8, timeout=30_000)
    window.act_pause_now.trigger()
    qtbot.waitUntil(lambda: window.state == "paused", timeout=20_000)
    window.plots.refresh(force=True)
    qtbot.wait(100)
    image = window.grab()
    for target in screenshot_targets(tmp_path):
        target.parent.mkdir(parents=True, exist_ok=True)
        assert image.save(str(target), "PNG")
        assert target.stat().st_size > 10_000
    assert window.shutdown_run()
    assert window.state == "aborted"


def test_an_instrument_fault_is_an_alert_in_the_window(qtbot, settings, tmp_path):
    from daq.documents import EventKind
    from gui.app import MainWindow
    from gui.live import LiveData
    from protocols.engine import EngineEvent

    win = MainWindow(settings, run_folder=tmp_path / "runs")
    qtbot.addWidget(win)
    win.live = LiveData(1e-4)
    text = "potentiostat fetch failed 3 times: timed out"
    win._on_event(EngineEvent(2.0, EventKind.FAULT, text, -1, {"role": "potentiostat"}))
    win._on_event(EngineEvent(2.5, EventKind.STEP_START, "main: galvanostatic", 1))
    assert f"INSTRUMENT FAULT at t = 2.0 s: {text}" in win.banner.text()
    win.event_log.kind_combo.setCurrentText("important only")
    assert [row[1] for row in win.event_log.rows()] == ["fault"]


def test_a_simulated_run_at_a_set_speed_shows_its_pace(window, qtbot, tmp_path, monkeypatch):
    """The speed control (``ssbench gui --speed N`` sets it) paces the virtual clock; the
    toolbar shows the measured pace."""
    import functools

    from protocols_fakes import HandWall

    import daq.clock

    wall = HandWall(step=0.001)  # the clock's wall: 1 ms per look, not the real one
    monkeypatch.setattr(
        daq.clock, "VirtualClock", functools.partial(daq.clock.VirtualClock, wall=wall)
    )
    panel = window.station_panel
    panel.disconnect_station()
    qtbot.waitUntil(lambda: panel.connect_button.isEnabled(), timeout=20_000)
    panel.speed.setValue(50.0)
    panel.connect_station()
    qtbot.waitUntil(lambda: panel.station is not None, timeout=20_000)
    assert panel.station.clock.acceleration == 50.0
    set_protocol(window, cycling(40))
    wall0 = wall.t
    assert window.start_run()
    qtbot.waitUntil(lambda: "× real time" in window.time_label.text(), timeout=20_000)
    run_t = panel.station.clock.now()
    assert run_t <= 50.0 * (wall.t - wall0) + 1.0  # never ahead of the set pace
    image = window.grab()
    assert image.save(str(tmp_path / "gui-speed.png"), "PNG")
    assert window.shutdown_run()
