"""The DICOM tag browser: the current image's header with a search box."""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from fracture_desktop.gui.tags import TagRow


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
        self.tree.setColumnWidth(0, 110)
        self.tree.setColumnWidth(1, 200)
        self.tree.setColumnWidth(2, 40)
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
            items.append(QTreeWidgetItem([indent + row.tag, row.keyword, row.vr, row.value]))
        if not rows:
            items.append(QTreeWidgetItem(["", "(no DICOM header)", "", ""]))
        self.tree.addTopLevelItems(items)
        self._filter(self.search.text())

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
