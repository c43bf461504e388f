"""The DICOM tag browser: the current image's header with a search box."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QLineEdit,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fracture_desktop.gui.tags import TagRow

#: The keyword column may take this share of the panel's width, or more while the value
#: keeps :data:`VALUE_SHARE`; beyond, keywords are cut in the middle (the tooltip has them).
KEYWORD_SHARE = 0.3
VALUE_SHARE = 1 / 3


class MiddleElide(QStyledItemDelegate):
    """Cuts a cell's text in the middle: ``ReferencedPerf…StepSequence`` keeps both ends
    of a long keyword, where the start alone would leave several alike."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle


class TagBrowser(QWidget):
    """Lists header elements; the search matches tag, keyword or value (case-insensitive)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search tags, e.g. spacing or 0028")
        self.search.setClearButtonEnabled(True)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(["Tag", "Keyword", "VR", "Value"])
        self.tree.setRootIsDecorated(False)
        self.tree.header().setStretchLastSection(True)  # the value takes what is left
        self.tree.setItemDelegateForColumn(1, MiddleElide(self.tree))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self.search.textChanged.connect(self._filter)

    def set_rows(self, rows: tuple[TagRow, ...]) -> None:
        self.tree.clear()
        items = []
        for row in rows:
            indent = "  " * row.depth  # sequence items are indented under their sequence
            item = QTreeWidgetItem([indent + row.tag, row.keyword, row.vr, row.value])
            item.setToolTip(1, row.keyword)
            item.setToolTip(3, row.value)  # long values are cut: the tooltip has them whole
            items.append(item)
        if not rows:
            items.append(QTreeWidgetItem(["", "(no DICOM header)", "", ""]))
        self.tree.addTopLevelItems(items)
        self._fit_columns()
        self._filter(self.search.text())

    def _fit_columns(self) -> None:
        """Tag and VR whole; the keyword whole unless the value would keep less than
        :data:`VALUE_SHARE` of the width (and it more than :data:`KEYWORD_SHARE`); the
        value gets the rest, so it is on screen at any panel width."""
        for column in (0, 1, 2):
            self.tree.resizeColumnToContents(column)
        room = self.tree.viewport().width()
        tag_and_vr = self.tree.columnWidth(0) + self.tree.columnWidth(2)
        cap = int(max(room * KEYWORD_SHARE, room * (1 - VALUE_SHARE) - tag_and_vr))
        if self.tree.columnWidth(1) > cap:
            self.tree.setColumnWidth(1, cap)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_columns()

    def _filter(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            haystack = " ".join(item.text(c) for c in range(4)).lower()
            item.setHidden(bool(needle) and needle not in haystack)

    def visible_keywords(self) -> list[str]:
        return [
            self.tree.topLevelItem(i).text(1)
            for i in range(self.tree.topLevelItemCount())
            if not self.tree.topLevelItem(i).isHidden()
        ]
