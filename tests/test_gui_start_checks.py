"""Start refuses, like ``ssbench run``, a protocol that validate() finds problems with."""

from __future__ import annotations

from gui_support import cycling, set_protocol

OVER_LIMIT = """\
name: gui over limit
sample: {area: 1 cm2}
limits:
  current_density: 1 mA/cm2
  voltage: {min: -1.5 V, max: 1.5 V}
steps:
  - {type: galvanostatic, current_density: 50 mA/cm2, end: [{time: 5 s}]}
"""


def _warnings(monkeypatch) -> list[str]:
    shown: list[str] = []
    monkeypatch.setattr("gui.app.warn", lambda parent, title, text: shown.append(text))
    return shown


def _refused(window, shown: list[str]) -> None:
    """Not started, nothing recorded, and the limit problem visible in all three places."""
    assert window.state == "idle" and not window.worker.running
    runs = window.run_folder
    assert not runs.exists() or not any(runs.iterdir())
    assert len(shown) == 1 and "beyond the protocol's safety limit 1 mA" in shown[0]
    listed = [line for line in window.protocol_panel.problems() if "safety limit 1 mA" in line]
    assert len(listed) == 1
    logged = [row for row in window.event_log.rows() if row[1] == "not_started"]
    assert len(logged) == 1 and "current 50 mA" in logged[0][3]
    assert window.tabs.currentWidget() is window.protocol_panel


def test_start_validates_on_the_connected_station(window, monkeypatch):
    from protocols.loader import load_protocol_text

    shown = _warnings(monkeypatch)
    set_protocol(window, cycling(1))
    # a protocol object the panel's own check did not see (e.g. checked on another station)
    window.protocol_panel.protocol = load_protocol_text(OVER_LIMIT, "<editor>")
    window.protocol_panel.editor.blockSignals(True)
    window.protocol_panel.editor.setPlainText(OVER_LIMIT)
    window.protocol_panel.editor.blockSignals(False)
    assert window.act_start.isEnabled()
    window.act_start.trigger()
    _refused(window, shown)


def test_start_right_after_an_edit_checks_the_new_text(window, monkeypatch):
    shown = _warnings(monkeypatch)
    set_protocol(window, cycling(1))
    window.protocol_panel.editor.setPlainText(OVER_LIMIT)  # F5 before the debounce timer fires
    assert window.act_start.isEnabled()
    window.act_start.trigger()
    _refused(window, shown)
