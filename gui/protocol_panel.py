"""Protocol panel: YAML editor with validation that points at the line, a form per template,
the safety limits (editable before the start) and the expected duration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QTextCursor, QTextFormat
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from gui.forms import (
    LIMIT_FIELDS,
    TEMPLATE_FIELDS,
    TEMPLATE_TITLES,
    limits_from_yaml,
    template_protocol,
    with_limits,
)

VALIDATE_DELAY_MS = 300
LINE_ROLE = Qt.ItemDataRole.UserRole


class ProtocolPanel(QWidget):
    """Editor + validation list + template forms + limits; emits the checked protocol."""

    protocol_changed = Signal()  # see ``protocol`` (None while the text is not runnable)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path: Path | None = None
        self.protocol: Any = None
        self.station_config: Any = None
        self.report_lines: list[str] = []

        self.editor = QPlainTextEdit()
        self.editor.setFont(QFont("monospace", 10))
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.editor.textChanged.connect(self._text_changed)
        self.path_label = QLabel("(unsaved)")
        open_button = QPushButton("Open…")
        open_button.clicked.connect(self.open_dialog)
        save_button = QPushButton("Save")
        save_button.clicked.connect(self.save)
        save_as = QPushButton("Save as…")
        save_as.clicked.connect(self.save_as_dialog)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.issues = QListWidget()
        self.issues.itemActivated.connect(self._goto_issue)
        self.issues.itemClicked.connect(self._goto_issue)
        self.estimate_label = QLabel()
        self.estimate_label.setWordWrap(True)

        files = QHBoxLayout()
        files.addWidget(self.path_label, 1)
        for b in (open_button, save_button, save_as):
            files.addWidget(b)
        editor_box = QWidget()
        ev = QVBoxLayout(editor_box)
        ev.setContentsMargins(0, 0, 0, 0)
        ev.addLayout(files)
        ev.addWidget(self.editor, 1)
        check_box = QWidget()
        cv = QVBoxLayout(check_box)
        cv.setContentsMargins(0, 0, 0, 0)
        cv.addWidget(self.status)
        cv.addWidget(self.issues, 1)
        cv.addWidget(self.estimate_label)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(editor_box)
        split.addWidget(check_box)
        split.setSizes([500, 200])

        side = QTabWidget()
        side.addTab(self._build_templates(), "Templates")
        side.addTab(self._build_limits(), "Safety limits")
        outer = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(split)
        outer.addWidget(side)
        outer.setSizes([600, 380])
        layout = QVBoxLayout(self)
        layout.addWidget(outer)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(VALIDATE_DELAY_MS)
        self._timer.timeout.connect(self.validate_now)

    # -- forms -----------------------------------------------------------------------------
    def _build_templates(self) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        self.template_combo = QComboBox()
        self.template_stack = QStackedWidget()
        self.template_edits: dict[str, dict[str, QLineEdit]] = {}
        for name, fields in TEMPLATE_FIELDS.items():
            self.template_combo.addItem(TEMPLATE_TITLES[name], name)
            page = QWidget()
            form = QFormLayout(page)
            edits = {}
            for field, default, hint in fields:
                edit = QLineEdit(default)
                edit.setPlaceholderText(hint)
                edit.setToolTip(hint)
                form.addRow(field, edit)
                edits[field] = edit
            self.template_edits[name] = edits
            self.template_stack.addWidget(page)
        self.template_combo.currentIndexChanged.connect(self.template_stack.setCurrentIndex)
        common = QFormLayout()
        self.template_name = QLineEdit("my protocol")
        self.template_area = QLineEdit("1 cm2")
        self.template_rate = QLineEdit("10 Hz")
        common.addRow("protocol name", self.template_name)
        common.addRow("electrode area", self.template_area)
        common.addRow("sampling rate", self.template_rate)
        make = QPushButton("Put into the editor")
        make.clicked.connect(self.apply_template)
        layout.addWidget(self.template_combo)
        layout.addLayout(common)
        layout.addWidget(self.template_stack)
        layout.addWidget(make)
        layout.addStretch(1)
        return box

    def apply_template(self) -> None:
        """Replace the editor text with a protocol built from the template form."""
        name = self.template_combo.currentData()
        values = {k: e.text() for k, e in self.template_edits[name].items()}
        text = template_protocol(name, values, self.template_name.text(),
                                 self.template_area.text(), self.template_rate.text())  # fmt: skip
        self.path = None
        self.path_label.setText("(unsaved, from template)")
        self.editor.setPlainText(text)
        self.validate_now()

    def _build_limits(self) -> QWidget:
        self.limits_box = QGroupBox("Checked on every sample; a crossing trips to the safe state")
        form = QFormLayout(self.limits_box)
        self.limit_edits: dict[tuple[str, ...], QLineEdit] = {}
        for path, label, hint in LIMIT_FIELDS:
            edit = QLineEdit()
            edit.setPlaceholderText(hint)
            form.addRow(label, edit)
            self.limit_edits[path] = edit
        apply = QPushButton("Apply limits to the protocol")
        apply.clicked.connect(self.apply_limits)
        self.limits_error = QLabel(wordWrap=True)
        self.limits_error.setStyleSheet("color: #b00020;")
        form.addRow(apply)
        form.addRow(self.limits_error)
        return self.limits_box

    def _show_limits(self) -> None:
        values = limits_from_yaml(self.editor.toPlainText())
        for path, edit in self.limit_edits.items():
            if not edit.hasFocus():
                edit.setText(values.get(path, ""))

    def apply_limits(self) -> bool:
        """Write the limit form into the YAML; the protocol is validated again."""
        values = {path: edit.text() for path, edit in self.limit_edits.items()}
        try:
            text = with_limits(self.editor.toPlainText(), values)
        except Exception as exc:  # noqa: BLE001 - YAML problems are shown, not raised
            self.limits_error.setText(str(exc))
            return False
        self.limits_error.setText("")
        self.editor.setPlainText(text)
        self.validate_now()
        return self.protocol is not None

    def set_editable(self, editable: bool) -> None:
        """Locked while a run is in progress (the run uses the text it started with)."""
        self.editor.setReadOnly(not editable)
        self.limits_box.setEnabled(editable)

    # -- files -----------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Protocol", "", "YAML (*.yaml *.yml)")
        if path:
            self.load(Path(path))

    def load(self, path: Path) -> bool:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.status.setText(f"<b style='color:#b00020'>cannot read {path}: {exc}</b>")
            return False
        self.path = Path(path)
        self.path_label.setText(str(path))
        self.editor.setPlainText(text)
        self.validate_now()
        return True

    def save(self) -> bool:
        if self.path is None:
            return self.save_as_dialog()
        try:
            self.path.write_text(self.editor.toPlainText(), encoding="utf-8")
        except OSError as exc:
            self.status.setText(f"<b style='color:#b00020'>cannot save: {exc}</b>")
            return False
        self.path_label.setText(str(self.path))
        return True

    def save_as_dialog(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self, "Save protocol", "", "YAML (*.yaml *.yml)")
        if not path:
            return False
        self.path = Path(path)
        return self.save()

    @property
    def text(self) -> str:
        return self.editor.toPlainText()

    # -- validation ------------------------------------------------------------------------
    def set_station_config(self, config: Any) -> None:
        """Check setpoints against this station's ranges too."""
        self.station_config = config
        self.validate_now()

    def _text_changed(self) -> None:
        self._timer.start()

    def validate_now(self) -> None:
        """Parse and check the editor text; list every problem with its line."""
        from protocols.errors import ProtocolError
        from protocols.loader import load_protocol_text
        from protocols.validate import validate

        self._timer.stop()
        self.issues.clear()
        source = self.path.name if self.path else "<editor>"
        text = self.editor.toPlainText()
        protocol = None
        if not text.strip():
            self.status.setText("no protocol: open a file or use a template")
        else:
            try:
                protocol = load_protocol_text(text, source)
            except ProtocolError as exc:
                self.status.setText(
                    f"<b style='color:#b00020'>{len(exc.issues)} problem(s)</b> — click one to go to its line"
                )
                for issue, line in zip(exc.issues, exc.lines(), strict=True):
                    item = QListWidgetItem(line)
                    item.setData(LINE_ROLE, issue.line or 0)
                    self.issues.addItem(item)
        self.estimate_label.setText("")
        self.report_lines = []
        if protocol is not None:
            report = validate(protocol, self.station_config)
            self.report_lines = report.lines()
            for problem in report.problems:
                self.issues.addItem(QListWidgetItem(f"{source}: {problem}"))
            ok = "valid" if report.ok else "valid YAML, but not runnable on this station"
            self.status.setText(f"<b>{protocol.name}</b>: {ok} (sha256 {protocol.sha256()[:12]})")
            self.estimate_label.setText("\n".join(report.lines()[:3]))
            if not report.ok:
                protocol = None
        self._highlight_issue_lines()
        self._show_limits()
        self.protocol = protocol
        self.protocol_changed.emit()

    def check_pending(self) -> None:
        """Validate now if an edit is still waiting for the debounce timer (e.g. F5 at once)."""
        if self._timer.isActive():
            self.validate_now()

    def problems(self) -> list[str]:
        """The problem list as shown, one line each."""
        return [self.issues.item(k).text() for k in range(self.issues.count())]

    def show_refusal(self, problems: list[str]) -> None:
        """List why the run was not started (one line each) in the problem list."""
        source = self.path.name if self.path else "<editor>"
        self.status.setText(
            f"<b style='color:#b00020'>not started: {len(problems)} problem(s) on the connected "
            "station</b>"
        )
        for problem in problems:
            self.issues.addItem(QListWidgetItem(f"{source}: {problem}"))

    def _highlight_issue_lines(self) -> None:
        selections = []
        doc = self.editor.document()
        for k in range(self.issues.count()):
            line = self.issues.item(k).data(LINE_ROLE) or 0
            if line <= 0:
                continue
            sel = QTextEdit.ExtraSelection()
            sel.format.setBackground(QColor("#ffe0e0"))
            sel.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
            sel.cursor = QTextCursor(doc.findBlockByNumber(line - 1))
            selections.append(sel)
        self.editor.setExtraSelections(selections)

    def _goto_issue(self, item: QListWidgetItem) -> None:
        line = item.data(LINE_ROLE) or 0
        if line > 0:
            self.goto_line(line)

    def goto_line(self, line: int) -> None:
        block = self.editor.document().findBlockByNumber(line - 1)
        cursor = QTextCursor(block)
        self.editor.setTextCursor(cursor)
        self.editor.centerCursor()
        self.editor.setFocus()
