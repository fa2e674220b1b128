"""Event log: every engine event (or a run file's log) in a table, filtered by text and kind."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from daq.documents import EventKind as K

COLUMNS = ("time", "kind", "step", "message")
#: kinds that need the operator's attention (notifications, the "important" filter)
ALERT_KINDS = frozenset({K.LIMIT_TRIP, K.DETECTOR, K.SAFE_STATE_FAILED, K.ABORT, K.RUN_END, K.RETRY,
                         K.FAULT, K.OUTCOME, K.TIMEOUT})  # fmt: skip
_COLOURS = {K.LIMIT_TRIP: "#ffd6d6", K.DETECTOR: "#ffe9cc", K.SAFE_STATE_FAILED: "#ffb3b3",
            K.FAULT: "#ffb3b3", K.OUTCOME: "#e6f2ff", K.ABORT: "#ffd6d6"}  # fmt: skip
ALL, IMPORTANT = "all kinds", "important only"


def format_time(seconds: float) -> str:
    """Run time as [d ]hh:mm:ss.s."""
    days, rest = divmod(max(seconds, 0.0), 86_400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    text = f"{int(h):02d}:{int(m):02d}:{s:04.1f}"
    return f"{int(days)}d {text}" if days else text


class _Filter(QSortFilterProxyModel):
    def __init__(self) -> None:
        super().__init__()
        self.text = ""
        self.kind = ALL

    def refilter(self) -> None:
        """Apply changed criteria (Qt >= 6.10 brackets the change; older Qt invalidates)."""
        if hasattr(self, "endFilterChange"):
            self.beginFilterChange()
            self.endFilterChange()
        else:
            self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent: QModelIndex) -> bool:  # noqa: N802 - Qt API
        model = self.sourceModel()
        kind = model.item(row, 1).text()
        if self.kind == IMPORTANT and kind not in ALERT_KINDS:
            return False
        if self.kind not in (ALL, IMPORTANT) and kind != self.kind:
            return False
        if not self.text:
            return True
        needle = self.text.lower()
        return any(needle in model.item(row, c).text().lower() for c in range(len(COLUMNS)))


class EventLog(QWidget):
    """The table, a text filter and a kind filter."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = QStandardItemModel(0, len(COLUMNS))
        self.model.setHorizontalHeaderLabels(COLUMNS)
        self.proxy = _Filter()
        self.proxy.setSourceModel(self.model)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.verticalHeader().setVisible(False)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.ResizeToContents
        )
        self.view.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("filter events (text in any column)")
        self.filter_edit.textChanged.connect(self._set_text)
        self.kind_combo = QComboBox()
        self.kind_combo.addItems([ALL, IMPORTANT])
        self.kind_combo.currentTextChanged.connect(self._set_kind)
        top = QHBoxLayout()
        top.addWidget(self.filter_edit, 1)
        top.addWidget(self.kind_combo)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.view)
        self._kinds: set[str] = set()

    def _set_text(self, text: str) -> None:
        self.proxy.text = text
        self.proxy.refilter()

    def _set_kind(self, kind: str) -> None:
        self.proxy.kind = kind
        self.proxy.refilter()

    def clear(self) -> None:
        self.model.removeRows(0, self.model.rowCount())

    def add(self, time: float, kind: str, step: int, text: str) -> None:
        """Append one event (the view follows the end unless the user scrolled up)."""
        bar = self.view.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 2
        items = [QStandardItem(format_time(time)), QStandardItem(kind),
                 QStandardItem("" if step < 0 else str(step)), QStandardItem(text)]  # fmt: skip
        items[0].setData(time, Qt.ItemDataRole.UserRole)
        if kind in _COLOURS:
            for item in items:
                item.setBackground(QBrush(QColor(_COLOURS[kind])))
        self.model.appendRow(items)
        if kind not in self._kinds:
            self._kinds.add(kind)
            self.kind_combo.addItem(kind)
        if at_end:
            self.view.scrollToBottom()

    def rows(self) -> list[tuple[str, str, str, str]]:
        """The rows the filter lets through (what the operator sees)."""
        out = []
        for r in range(self.proxy.rowCount()):
            out.append(tuple(self.proxy.index(r, c).data() for c in range(len(COLUMNS))))
        return out
