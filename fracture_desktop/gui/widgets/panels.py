"""Side panels: problems found by the scan, and the model's findings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fracture_desktop.core.decisions import Decision
from fracture_desktop.core.findings import Finding
from fracture_desktop.core.imaging.records import FileProblem, ImageRecord
from fracture_desktop.gui.flags import (
    FLAG_COLOURS,
    decision_text,
    flag_text,
    flag_tooltip,
    suspicion_key,
)


class ProblemsPanel(QTreeWidget):
    """Every file that could not be used, with its reason; details in the tooltip."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(2)
        self.setHeaderLabels(["File", "Reason"])
        self.setRootIsDecorated(False)
        self.setColumnWidth(0, 130)

    def add_problem(self, problem: FileProblem) -> None:
        item = QTreeWidgetItem([problem.path.name, problem.reason])
        item.setToolTip(0, str(problem.path))
        item.setToolTip(1, problem.details or problem.reason)
        self.addTopLevelItem(item)

    def problems(self) -> list[tuple[str, str]]:
        """``(file name, reason)`` rows, for the window title and tests."""
        return [
            (self.topLevelItem(i).text(0), self.topLevelItem(i).text(1))
            for i in range(self.topLevelItemCount())
        ]


class _KeyItem(QTableWidgetItem):
    """A cell that sorts by a number, not by its text."""

    def __init__(self, text: str, key: float) -> None:
        super().__init__(text)
        self.key = key

    def __lt__(self, other: QTableWidgetItem) -> bool:
        return self.key < getattr(other, "key", 0.0)


class FindingsPanel(QWidget):
    """One row per analysed image, most suspicious first; the reader confirms or rejects."""

    sig_record_selected = Signal(object)  # ImageRecord
    sig_decision = Signal(object, object)  # ImageRecord, Decision or None

    COLUMNS = ("Image", "Flag", "Reader")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(0, 150)
        self.table.setColumnWidth(1, 90)
        self.table.setSortingEnabled(True)
        self.confirm_button = QPushButton("Confirm (Y)")
        self.reject_button = QPushButton("Reject (N)")
        self.summary = QLabel("")
        # The folder shift warning (fracture_desktop.core.shift): above the list, so it is
        # read before any flag is.
        self.warning = QLabel("")
        self.warning.setObjectName("shiftWarning")
        self.warning.setWordWrap(True)
        self.warning.setVisible(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.confirm_button)
        buttons.addWidget(self.reject_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.warning)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self._rows: dict[Path, tuple[ImageRecord, list[_KeyItem]]] = {}
        self.table.currentCellChanged.connect(self._on_current)
        self.confirm_button.clicked.connect(lambda: self._decide(Decision.CONFIRMED))
        self.reject_button.clicked.connect(lambda: self._decide(Decision.REJECTED))

    def clear(self) -> None:
        self.table.setRowCount(0)
        self._rows.clear()
        self.summary.setText("")
        self.set_warning("")

    def set_warning(self, text: str) -> None:
        """Show the folder shift warning; empty text hides it."""
        self.warning.setText(text)
        self.warning.setVisible(bool(text))

    def set_finding(self, record: ImageRecord, finding: Finding) -> None:
        key = suspicion_key(finding)
        known = self._rows.get(record.path)
        if known is None:
            items = [
                _KeyItem(record.path.name, 0.0),
                _KeyItem("", key),
                _KeyItem("", 0.0),
            ]
            items[0].setToolTip(str(record.path))
            items[0].setData(Qt.ItemDataRole.UserRole, str(record.path))
            self.table.setSortingEnabled(False)  # rows must be complete before they sort
            row = self.table.rowCount()
            self.table.insertRow(row)
            for column, item in enumerate(items):
                self.table.setItem(row, column, item)
            self.table.setSortingEnabled(True)
            self._rows[record.path] = (record, items)
        else:
            items = known[1]
        items[1].key = key
        items[1].setText(flag_text(finding))
        items[1].setForeground(FLAG_COLOURS[finding.flag])
        items[1].setToolTip(flag_tooltip(finding))
        self.table.sortItems(1, Qt.SortOrder.AscendingOrder)
        self.summary.setText(f"{len(self._rows)} analysed, most suspicious first")

    def set_decision(self, path: Path, decision: Decision | None) -> None:
        known = self._rows.get(path)
        if known is not None:
            known[1][2].setText(decision_text(decision))

    def ordered_records(self) -> list[ImageRecord]:
        """Records in the table's current order (top row first)."""
        return [
            self._record_at(row)
            for row in range(self.table.rowCount())
            if self._record_at(row) is not None
        ]

    def _record_at(self, row: int) -> ImageRecord | None:
        item = self.table.item(row, 0)
        if item is None:
            return None
        return self._rows[Path(item.data(Qt.ItemDataRole.UserRole))][0]

    def select(self, path: Path) -> None:
        known = self._rows.get(path)
        if known is not None:
            self.table.blockSignals(True)
            self.table.setCurrentItem(known[1][0])
            self.table.blockSignals(False)

    def _current_record(self) -> ImageRecord | None:
        return self._record_at(self.table.currentRow())

    def _on_current(self, row: int, *_: int) -> None:
        record = self._current_record()
        if record is not None:
            self.sig_record_selected.emit(record)

    def _decide(self, decision: Decision) -> None:
        record = self._current_record()
        if record is not None:
            self.sig_decision.emit(record, decision)
