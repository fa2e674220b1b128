"""Protocol panel (validation at the line, template forms, limits), settings, event-log filter."""

from __future__ import annotations

import pytest
from gui_support import cycling

from gui.forms import LIMIT_FIELDS, TEMPLATE_FIELDS


@pytest.fixture
def panel(qtbot):
    from gui.protocol_panel import ProtocolPanel

    p = ProtocolPanel()
    qtbot.addWidget(p)
    return p


def test_validation_message_points_at_the_line(panel):
    text = cycling(3).replace("current_density: 0.2 mA/cm2", "current_density: 0.2 mA/cmm2")
    line = text.splitlines().index("    current_density: 0.2 mA/cmm2") + 1
    panel.editor.setPlainText(text)
    panel.validate_now()
    assert panel.protocol is None
    item = panel.issues.item(0)
    assert f":{line}:" in item.text() and "current_density" in item.text()
    panel._goto_issue(item)
    assert panel.editor.textCursor().blockNumber() == line - 1
    assert panel.editor.extraSelections()[0].cursor.blockNumber() == line - 1


def test_bad_yaml_names_its_line(panel):
    panel.editor.setPlainText("name: x\nsteps:\n  - {type: rest\n")
    panel.validate_now()
    assert panel.protocol is None
    assert panel.issues.count() >= 1
    assert "not valid YAML" in panel.issues.item(0).text()
    assert panel.issues.item(0).data(256) >= 3  # Qt.UserRole: the line of the problem


@pytest.mark.parametrize("template", list(TEMPLATE_FIELDS))
def test_every_template_form_makes_a_valid_protocol(panel, template):
    panel.template_combo.setCurrentIndex(list(TEMPLATE_FIELDS).index(template))
    panel.apply_template()
    assert panel.protocol is not None, [
        panel.issues.item(k).text() for k in range(panel.issues.count())
    ]
    assert panel.protocol.steps[0].type == template
    assert "expected duration" in panel.estimate_label.text()


def test_template_form_reports_a_bad_unit(panel):
    panel.template_combo.setCurrentIndex(0)
    panel.template_edits["plating_stripping"]["current_density"].setText("0.1 parsecs")
    panel.apply_template()
    assert panel.protocol is None
    assert "current_density" in panel.issues.item(0).text()


def test_limits_are_shown_and_applied(panel):
    panel.editor.setPlainText(cycling(2))
    panel.validate_now()
    edits = panel.limit_edits
    assert edits[("voltage", "max")].text() == "1.5 V"
    edits[("voltage", "max")].setText("0.8 V")
    edits[("current_density",)].setText("2 mA/cm2")
    assert panel.apply_limits()
    limits = panel.protocol.limits
    assert limits.voltage.max == pytest.approx(0.8)
    assert limits.current_density == pytest.approx(20.0)  # A/m²
    edits[("voltage", "min")].setText("0.9 V")  # above max: refused with the field named
    assert not panel.apply_limits()
    assert "voltage" in panel.issues.item(0).text()
    assert len(LIMIT_FIELDS) == len(edits)


def test_window_remembers_station_and_protocol(qtbot, settings, tmp_path, monkeypatch):
    from gui.app import MainWindow
    from gui.station_panel import BUILTIN_STATION

    monkeypatch.setattr("gui.app.confirm", lambda *a: True)
    protocol = tmp_path / "p.yaml"
    protocol.write_text(cycling(2))
    first = MainWindow(settings, run_folder=tmp_path / "runs")
    qtbot.addWidget(first)
    first.station_panel.load(BUILTIN_STATION)
    first.protocol_panel.load(protocol)
    first.close()
    second = MainWindow(settings, run_folder=tmp_path / "runs")
    qtbot.addWidget(second)
    assert second.station_panel.path == BUILTIN_STATION
    assert second.protocol_panel.path == protocol
    assert second.protocol_panel.protocol is not None
    second.close()


def test_station_file_errors_show_inline(qtbot, tmp_path):
    from gui.station_panel import StationPanel

    bad = tmp_path / "bench.yaml"
    bad.write_text(
        "name: b\ninstruments:\n  cell:\n    driver: keithly2450\n    resource: sim://x\n"
    )
    panel = StationPanel()
    qtbot.addWidget(panel)
    assert not panel.load(bad)
    assert "bench.yaml:4" in panel.error_label.text() and "keithly2450" in panel.error_label.text()
    assert not panel.connect_button.isEnabled()


def test_event_log_filters_by_text_and_kind(qtbot):
    from gui.event_log import IMPORTANT, EventLog

    log = EventLog()
    qtbot.addWidget(log)
    log.add(1.0, "step_start", 0, "main: rest")
    log.add(2.0, "limit_trip", -1, "voltage 1.6 V above 1.5 V")
    log.add(3.0, "step_start", 1, "main: galvanostatic")
    log.filter_edit.setText("galv")
    assert [r[3] for r in log.rows()] == ["main: galvanostatic"]
    log.filter_edit.setText("")
    log.kind_combo.setCurrentText(IMPORTANT)
    assert [r[1] for r in log.rows()] == ["limit_trip"]
    log.kind_combo.setCurrentText("step_start")
    assert len(log.rows()) == 2
