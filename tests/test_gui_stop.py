"""Stop (F8 / toolbar) on the simulated station: the step in progress finishes, then the run
ends as ``stopped`` with a complete run file."""

from __future__ import annotations

import pytest
from gui_support import set_protocol, wait_finished

THREE_STEPS = """\
name: gui stop
sample: {area: 1 cm2}
sampling: {rate: 2 Hz}
limits:
  voltage: {min: -1.5 V, max: 1.5 V}
steps:
  - {type: rest, end: [{time: 2 s}]}
  - {type: galvanostatic, current_density: 0.2 mA/cm2, end: [{time: 60 s}]}
  - {type: rest, end: [{time: 60 s}]}
"""


def _started(window) -> int:
    return sum(1 for row in window.event_log.rows() if row[1] == "step_start")


def test_stop_finishes_the_step_then_ends_stopped(window, qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QToolBar

    from daq.runfile import RunReader

    set_protocol(window, THREE_STEPS)
    assert window.start_run()
    qtbot.waitUntil(lambda: _started(window) == 2, timeout=20_000)  # in the galvanostatic step
    toolbar = window.findChild(QToolBar, "run_toolbar")
    assert window.act_stop in toolbar.actions() and window.act_stop.isEnabled()
    assert window.act_stop.shortcut().toString() == "F8"
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_F8)
    wait_finished(qtbot, window)
    assert window.state == "stopped"
    assert window.last_result.status == "stopped"

    with RunReader(window.last_run) as reader:
        assert reader.status == "stopped"
        events = reader.events()
        electro_rows = reader.stream_length("electro")
        last_time = float(reader.stream("electro")["time"].iloc[-1])
    kinds = list(events["kind"])
    assert kinds.count("stop") == 1 and kinds[-1] == "run_end"
    stop_at = kinds.index("stop")
    after = events.iloc[stop_at + 1 :]
    assert "step_start" not in set(after["kind"])  # the last rest never starts
    ends = events[events["kind"] == "step_end"]
    starts = events[events["kind"] == "step_start"]
    assert len(starts) == 2 and len(ends) == 2
    galv_start, galv_end = starts.iloc[1], ends.iloc[1]
    assert events.index.get_loc(galv_end.name) > stop_at  # ended after the stop request ...
    assert "ended by time" in galv_end["message"]  # ... by its own end condition
    assert galv_end["time"] - galv_start["time"] == pytest.approx(60.0, abs=1.0)
    assert electro_rows == window.live.stores["electro"].total > 0
    assert last_time == pytest.approx(galv_end["time"], abs=1.0)
