"""In situ view on the simulated TEM holder + camera: frames beside the traces, time linking."""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_support import set_protocol, wait_finished

TEM_STATION = Path(__file__).resolve().parents[1] / "examples/stations/sim_tem.yaml"
TEM_PROTOCOL = """\
name: tem
sampling: {rate: 5 Hz, slow_rate: 1 Hz}
limits: {bias: 11 V}
steps:
  - {type: tem_sequence, threshold_current: 5 pA, probe_bias: -2 V, coarse_steps: 60, approach_step: 10 nm,
     max_travel: 1 um, plate_time: 10 s, strip_time: 10 s, cycles: 2, current_limit: 100 nA}
"""


@pytest.mark.parametrize("gui_station", [TEM_STATION])
def test_frames_follow_the_plots_and_back(qtbot, window):
    win = window
    set_protocol(win, TEM_PROTOCOL)
    assert win.start_run()
    assert win.insitu.isVisibleTo(win)
    wait_finished(qtbot, win, timeout=60_000)
    assert win.state == "success", win.detail_label.text()
    frames = win.insitu.frames
    assert len(frames) >= 10
    assert win.plots.shown_streams == ("bias",)

    # a time in the plots shows the frame taken at (or just before) it
    t = 0.5 * (frames.times[3] + frames.times[4])
    win.plots.time_clicked.emit(t)
    assert win.insitu.slider.value() == 3
    # a chosen frame moves the plots' cursor to its time
    win.insitu.slider.setValue(5)
    cursor = win.plots.cursors[0]
    assert cursor.isVisible() and cursor.value() * 3600 == pytest.approx(frames.times[5])
    win.insitu.update_kymograph()
    assert win.insitu.kymo_item.image is not None
    assert win.insitu.kymo_item.image.shape[1] == min(len(frames), 400)

    # the run browser shows the recorded frames the same way
    assert win.browser.open(win.last_run)
    recorded = win.browser.insitu.frames
    assert recorded is not None and len(recorded) == len(frames)
    win.browser.plots.time_clicked.emit(t)
    assert win.browser.insitu.slider.value() == 3
