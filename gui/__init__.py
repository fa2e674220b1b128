"""The bench GUI (PySide6 + pyqtgraph)."""
