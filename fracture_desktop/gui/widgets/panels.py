"""Side panels: problems found by the scan, and the model's findings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent
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
    DECISION_SIGNS,
    FLAG_COLOURS,
    OTHER_MODEL_COLOUR,
    decision_sign,
    decision_text,
    flag_tooltip,
    other_model_note,
    shown_flag_text,
    suspicion_key,
)
from fracture_desktop.gui.widgets.columns import fix_column
from fracture_desktop.gui.widgets.two_line import FLAG_COLOUR_ROLE, FLAG_TEXT_ROLE, ImageRowDelegate

#: The most of the Problems panel's width that file names take before they are cut.
FILE_SHARE = 0.5


class ProblemsPanel(QTreeWidget):
    """Every file that could not be used, with its reason; details in the tooltip."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(2)
        self.setHeaderLabels(["File", "Reason"])
        self.setRootIsDecorated(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setColumnWidth(0, 130)
        self._fit_timer = QTimer(self)  # once for a burst of problems, not per file
        self._fit_timer.setSingleShot(True)
        self._fit_timer.setInterval(0)
        self._fit_timer.timeout.connect(self._fit_file_column)

    def add_problem(self, problem: FileProblem) -> None:
        item = QTreeWidgetItem([problem.path.name, problem.reason])
        item.setToolTip(0, str(problem.path))
        item.setToolTip(1, problem.details or problem.reason)
        self.addTopLevelItem(item)
        self._fit_timer.start()

    def _fit_file_column(self) -> None:
        """File names whole, up to :data:`FILE_SHARE` of the panel; the reason gets the rest
        (a name cut in the middle keeps its ends; the tooltip has the path)."""
        self.resizeColumnToContents(0)
        cap = int(self.viewport().width() * FILE_SHARE)
        if self.columnWidth(0) > cap:
            self.setColumnWidth(0, cap)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_file_column()

    def problems(self) -> list[tuple[str, str]]:
        """``(file name, reason)`` rows, for the window title and tests."""
        return [
            (self.topLevelItem(i).text(0), self.topLevelItem(i).text(1))
            for i in range(self.topLevelItemCount())
        ]


#: How the Reader column sorts: fracture, uncertain, no fracture, the calls of earlier
#: versions, then undecided.
DECISION_ORDER = {
    decision: rank
    for rank, decision in enumerate(
        (Decision.FRACTURE, Decision.UNCERTAIN, Decision.NO_FRACTURE, Decision.CONFIRMED,
         Decision.REJECTED)
    )
}  # fmt: skip


class _KeyItem(QTableWidgetItem):
    """A cell that sorts by a number, not by its text."""

    def __init__(self, text: str, key: float) -> None:
        super().__init__(text)
        self.key = key

    def __lt__(self, other: QTableWidgetItem) -> bool:
        return self.key < getattr(other, "key", 0.0)


class FindingsPanel(QWidget):
    """One row per analysed image, most suspicious first; the reader records their call."""

    sig_record_selected = Signal(object)  # ImageRecord
    sig_decision = Signal(object, object)  # ImageRecord, Decision or None

    COLUMNS = ("Image", "Reader")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setItemDelegateForColumn(0, ImageRowDelegate(self.table))
        rows = self.table.verticalHeader()
        rows.setDefaultSectionSize(ImageRowDelegate.row_height(self.table.fontMetrics()))
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, header.ResizeMode.Stretch)
        fix_column(self.table, header, 1, DECISION_SIGNS.values())
        # Sorted by the panel, not on every insert (a burst of findings would sort each time);
        # a click on a header still sorts by that column.
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        header.sortIndicatorChanged.connect(lambda *_: self._sort())
        # The reader's own call, beside the model's flag (a missed fracture is recordable).
        self.fracture_button = QPushButton("Fracture (Y)")
        self.normal_button = QPushButton("No fracture (N)")
        self.uncertain_button = QPushButton("Uncertain (U)")
        self.summary = QLabel("")
        self.summary.setWordWrap(True)  # never widens the panel
        # The folder shift warning (fracture_desktop.core.shift): above the list, so it is
        # read before any flag is.
        self.warning = QLabel("")
        self.warning.setObjectName("shiftWarning")
        self.warning.setWordWrap(True)
        self.warning.setVisible(False)
        buttons = QHBoxLayout()
        for button in (self.fracture_button, self.normal_button, self.uncertain_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.warning)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self._rows: dict[Path, tuple[ImageRecord, list[_KeyItem]]] = {}
        self._sort_timer = QTimer(self)
        self._sort_timer.setSingleShot(True)
        self._sort_timer.setInterval(0)
        self._sort_timer.timeout.connect(self._sort)
        self._warnings: dict[Path, tuple[str, ...]] = {}
        self._about: dict[Path, str] = {}  # the flag's tooltip line
        self._other_model: set[Path] = set()  # rows showing another model's result
        self.table.currentCellChanged.connect(self._on_current)
        self.fracture_button.clicked.connect(lambda: self._decide(Decision.FRACTURE))
        self.normal_button.clicked.connect(lambda: self._decide(Decision.NO_FRACTURE))
        self.uncertain_button.clicked.connect(lambda: self._decide(Decision.UNCERTAIN))

    def clear(self) -> None:
        self.table.setRowCount(0)
        self._rows.clear()
        self._warnings.clear()
        self._about.clear()
        self._other_model.clear()
        self.summary.setText("")
        self.set_warning("")

    def set_warning(self, text: str) -> None:
        """Show the folder shift warning; empty text hides it."""
        self.warning.setText(text)
        self.warning.setVisible(bool(text))

    def set_finding(self, record: ImageRecord, finding: Finding, made_by: str = "") -> None:
        """Show ``finding``; ``made_by`` names another model that made it (shown marked)."""
        key = suspicion_key(finding)
        known = self._rows.get(record.path)
        if known is None:
            items = [_KeyItem(record.path.name, key), _KeyItem("", len(DECISION_ORDER))]
            items[0].setToolTip(str(record.path))
            items[0].setData(Qt.ItemDataRole.UserRole, str(record.path))
            row = self.table.rowCount()
            self.table.insertRow(row)
            for column, item in enumerate(items):
                self.table.setItem(row, column, item)
            self._rows[record.path] = (record, items)
        else:
            items = known[1]
        name = items[0]
        name.key = key
        name.setData(FLAG_TEXT_ROLE, shown_flag_text(finding, made_by))
        name.setData(
            FLAG_COLOUR_ROLE, OTHER_MODEL_COLOUR if made_by else FLAG_COLOURS[finding.flag]
        )
        self._about[record.path] = other_model_note(made_by) if made_by else flag_tooltip(finding)
        if made_by:
            self._other_model.add(record.path)
        else:
            self._other_model.discard(record.path)
        self._update_name(record.path)
        self._sort_timer.start()  # once for a burst of findings (a reopened folder: thousands)
        self._update_caption()

    def _update_caption(self) -> None:
        """``"98 analysed, 9 not analysed (see Problems), most suspicious first"``: the count
        and the order the rows are in. An image that could not be read is listed but never
        counted as analysed, nor is another model's result."""
        header = self.table.horizontalHeader()
        ascending = header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
        if header.sortIndicatorSection() == 1:
            order = "decided first" if ascending else "undecided first"
        else:
            order = "most suspicious first" if ascending else "least suspicious first"
        failed = sum(text.startswith("Not analysed") for text in self._flag_texts())
        own = len(self._rows) - len(self._other_model) - failed
        not_analysed = f", {failed} not analysed (see Problems)" if failed else ""
        text = f"{own} analysed{not_analysed}, {order}"
        if self._other_model:
            text += f"; {len(self._other_model)} by another model, in brackets"
        self.summary.setText(text if self._rows else "")

    def _flag_texts(self) -> list[str]:
        return [str(items[0].data(FLAG_TEXT_ROLE) or "") for _, items in self._rows.values()]

    def set_warnings(self, path: Path, warnings: tuple[str, ...]) -> None:
        """Mark the image's row with the image's warnings (truncated, decoder notes)."""
        self._warnings[path] = tuple(warnings)
        self._update_name(path)

    def warnings_shown(self, path: Path) -> str:
        """The warning part of the row's tooltip ("" when none or no row)."""
        known = self._rows.get(path)
        return "\n".join(self._warnings.get(path, ())) if known is not None else ""

    def _update_name(self, path: Path) -> None:
        known = self._rows.get(path)
        if known is None:
            return  # the row comes with the finding; the warnings are kept till then
        record, items = known
        warnings = self._warnings.get(path, ())
        items[0].setText(("\u26a0 " if warnings else "") + record.path.name)
        lines = [str(record.path), self._about.get(path, ""), *warnings]
        items[0].setToolTip("\n".join(filter(None, lines)))

    def set_decision(self, path: Path, decision: Decision | None) -> None:
        known = self._rows.get(path)
        if known is not None:
            known[1][1].key = DECISION_ORDER.get(decision, len(DECISION_ORDER))
            known[1][1].setText(decision_sign(decision))
            known[1][1].setToolTip(f"Reader: {decision_text(decision)}" if decision else "")

    def _sort(self) -> None:
        """Sort the rows as the header's indicator says (the reader may have reversed it)."""
        self._sort_timer.stop()
        header = self.table.horizontalHeader()
        self.table.sortItems(header.sortIndicatorSection(), header.sortIndicatorOrder())
        self._update_caption()

    def ordered_records(self) -> list[ImageRecord]:
        """Records in the table's current order (top row first)."""
        if self._sort_timer.isActive():
            self._sort()
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
