"""The study browser: patient / study / series / image, filled while the scan streams."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import (
    QModelIndex,
    QSize,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QIcon,
    QImage,
    QPixmap,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from fracture_desktop.core.decisions import Decision
from fracture_desktop.core.findings import Finding, Flag
from fracture_desktop.core.imaging.records import ImageRecord
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

RECORD_ROLE = Qt.ItemDataRole.UserRole + 1
SUSPICION_ROLE = Qt.ItemDataRole.UserRole + 2
FLAG_ROLE = Qt.ItemDataRole.UserRole + 3
#: Filter choices: label and the flags shown (None: everything).
FILTERS: tuple[tuple[str, frozenset[Flag] | None], ...] = (
    ("All images", None),
    ("Fracture", frozenset({Flag.FRACTURE})),
    ("Fracture or doubt", frozenset({Flag.FRACTURE, Flag.DOUBT})),
    ("No fracture", frozenset({Flag.NO_FRACTURE})),
    ("Outside domain", frozenset({Flag.OUTSIDE_DOMAIN})),
    ("Not analysed", frozenset({Flag.NOT_ANALYSED})),
)
SORTS = ("Reading order", "Most suspicious first")


class SuspicionProxy(QSortFilterProxyModel):
    """Filters image rows by flag (their folders stay when a child matches) and sorts by
    suspicion."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: frozenset[Flag] | None = None
        self.setRecursiveFilteringEnabled(True)
        self.setSortRole(SUSPICION_ROLE)

    def set_shown(self, shown: frozenset[Flag] | None) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.9 deprecates invalidateFilter
            self.beginFilterChange()
            self.shown = shown
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.shown = shown
            self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent: QModelIndex) -> bool:
        if self.shown is None:
            return True
        index = self.sourceModel().index(row, 0, parent)
        flag = index.data(FLAG_ROLE)
        return flag is not None and Flag(flag) in self.shown


class StudyBrowser(QWidget):
    """Tree of what the scan found, with thumbnails, flag badges and decisions."""

    sig_record_selected = Signal(object)  # ImageRecord
    #: The images shown or their order changed (more found, a filter, a sort, a new flag
    #: under "most suspicious first"): positions such as "Image 3 / 9" are stale.
    sig_order_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = QStandardItemModel(0, 2)
        self.model.setHorizontalHeaderLabels(["Image", ""])
        self.proxy = SuspicionProxy()
        self.proxy.setSourceModel(self.model)
        self.tree = QTreeView()
        self.tree.setModel(self.proxy)
        self.tree.setIconSize(QSize(40, 40))
        self.tree.setItemDelegateForColumn(0, ImageRowDelegate(self.tree))
        self.tree.setUniformRowHeights(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setIndentation(14)
        # Names of a folder differ at the end (IMG0000002.jpg, IMG0000089.jpg): cut the middle.
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, header.ResizeMode.Stretch)
        fix_column(self.tree, header, 1, DECISION_SIGNS.values())
        self.filter_box = QComboBox()
        self.filter_box.addItems([label for label, _ in FILTERS])
        self.sort_box = QComboBox()
        self.sort_box.addItems(SORTS)
        self.summary = QLabel("No folder open")
        self.summary.setObjectName("browserSummary")
        controls = QHBoxLayout()
        controls.addWidget(self.filter_box)
        controls.addWidget(self.sort_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree)

        self._nodes: dict[tuple[str, ...], QStandardItem] = {}
        self._images: dict[Path, tuple[QStandardItem, QStandardItem]] = {}
        self._findings: dict[Path, Finding] = {}
        self._made_by: dict[Path, str] = {}  # results shown from another model
        self._decisions: dict[Path, Decision | None] = {}
        # One announcement for a burst of changes (a scan batch, thousands of findings).
        self._order_timer = QTimer(self)
        self._order_timer.setSingleShot(True)
        self._order_timer.setInterval(0)
        self._order_timer.timeout.connect(self.sig_order_changed)
        self.filter_box.currentIndexChanged.connect(self._on_filter)
        self.sort_box.currentIndexChanged.connect(self._on_sort)
        self.tree.selectionModel().currentChanged.connect(self._on_current)

    # -- filling ----------------------------------------------------------------------------

    def clear(self) -> None:
        self.model.removeRows(0, self.model.rowCount())
        self._nodes.clear()
        self._images.clear()
        self._findings.clear()
        self._made_by.clear()
        self._decisions.clear()
        self._update_summary()

    def add_records(self, records: list[ImageRecord]) -> None:
        for record in records:
            series = self._series_node(record)
            name = QStandardItem(self._image_label(record))
            name.setData(record, RECORD_ROLE)
            name.setData(Flag.NOT_ANALYSED.value, FLAG_ROLE)
            name.setData(suspicion_key(None), SUSPICION_ROLE)
            name.setData("", FLAG_TEXT_ROLE)
            name.setToolTip(str(record.path))
            mark = QStandardItem("")
            mark.setData(suspicion_key(None), SUSPICION_ROLE)
            series.appendRow([name, mark])
            self._images[record.path] = (name, mark)
        for node in self._nodes.values():
            if node.rowCount() and node.child(0).data(RECORD_ROLE) is not None:
                node.setText(f"{node.data(Qt.ItemDataRole.UserRole)} ({node.rowCount()})")
        self._update_summary()
        self._order_timer.start()
        if self.current_record() is None and records:
            self.select_record(records[0])

    @staticmethod
    def _image_label(record: ImageRecord) -> str:
        number = f"#{record.instance_number}  " if record.instance_number is not None else ""
        return number + record.path.name

    def _node(self, key: tuple[str, ...], parent: QStandardItem, label: str) -> QStandardItem:
        node = self._nodes.get(key)
        if node is None:
            node = QStandardItem(label)
            node.setData(label, Qt.ItemDataRole.UserRole)
            node.setData(suspicion_key(None), SUSPICION_ROLE)
            tail = QStandardItem("")
            tail.setData(suspicion_key(None), SUSPICION_ROLE)
            parent.appendRow([node, tail])
            self._nodes[key] = node
        return node

    def _series_node(self, r: ImageRecord) -> QStandardItem:
        root = self.model.invisibleRootItem()
        patient_label = " ".join(filter(None, [r.patient_name, r.patient_id])) or "(no patient)"
        patient = self._node(("p", r.patient_id, r.patient_name), root, patient_label)
        study_label = " ".join(filter(None, [r.study_date, r.study_description])) or "study"
        study = self._node(("s", r.patient_id, r.patient_name, r.study_uid), patient, study_label)
        series_label = r.series_description or r.modality or "series"
        key = ("e", r.patient_id, r.patient_name, r.study_uid, r.series_uid)
        series = self._node(key, study, series_label)
        for item in (patient, study, series):
            self.tree.expand(self.proxy.mapFromSource(item.index()))
        return series

    def set_thumbnail(self, record: ImageRecord, image: QImage) -> None:
        items = self._images.get(record.path)
        if items is not None:
            items[0].setIcon(QIcon(QPixmap.fromImage(image)))

    # -- flags and decisions ----------------------------------------------------------------

    def set_finding(self, finding: Finding, made_by: str = "") -> None:
        """Show ``finding``; ``made_by`` names another model that made it (shown marked)."""
        items = self._images.get(finding.path)
        if items is None:
            return
        self._findings[finding.path] = finding
        if made_by:
            self._made_by[finding.path] = made_by
        else:
            self._made_by.pop(finding.path, None)
        name, _mark = items
        key = suspicion_key(finding)
        name.setData(finding.flag.value, FLAG_ROLE)
        for item in items:
            item.setData(key, SUSPICION_ROLE)
        colour = OTHER_MODEL_COLOUR if made_by else FLAG_COLOURS[finding.flag]
        name.setData(colour, FLAG_COLOUR_ROLE)
        about = other_model_note(made_by) if made_by else flag_tooltip(finding)
        name.setToolTip(f"{name.data(RECORD_ROLE).path}\n{about}")
        self._update_badge(finding.path)
        # A folder sorts by its most suspicious image.
        parent = name.parent()
        while parent is not None:
            if key < parent.data(SUSPICION_ROLE):
                tail = self.model.itemFromIndex(parent.index().siblingAtColumn(1))
                for item in (parent, tail):
                    item.setData(key, SUSPICION_ROLE)
            parent = parent.parent()
        self._update_summary()
        if self.sort_box.currentIndex() == 1:
            self._order_timer.start()

    def set_decision(self, path: Path, decision: Decision | None) -> None:
        if path in self._images:
            self._decisions[path] = decision
            self._update_badge(path)

    def _update_badge(self, path: Path) -> None:
        name, mark = self._images[path]
        name.setData(
            shown_flag_text(self._findings.get(path), self._made_by.get(path, "")),
            FLAG_TEXT_ROLE,
        )
        decision = self._decisions.get(path)
        mark.setText(decision_sign(decision))
        mark.setToolTip(f"Reader: {decision_text(decision)}" if decision else "")

    def badge_text(self, record: ImageRecord) -> str:
        """What the row says about the image: its flag and the reader's decision."""
        name, _mark = self._images[record.path]
        decision = decision_text(self._decisions.get(record.path))
        return f"{name.data(FLAG_TEXT_ROLE) or ''}  {decision}".strip()

    def _on_filter(self, index: int) -> None:
        self.proxy.set_shown(FILTERS[index][1])
        self.tree.expandAll()
        self._order_timer.start()

    def _on_sort(self, index: int) -> None:
        # -1 restores the order the scan delivered (instance order within a series).
        self.proxy.sort(0 if index == 1 else -1, Qt.SortOrder.AscendingOrder)
        self._order_timer.start()

    # -- navigation -------------------------------------------------------------------------

    def visible_records(self) -> list[ImageRecord]:
        """Images in the order the browser shows them (after filter and sort)."""
        return [index.data(RECORD_ROLE) for index in self._walk(QModelIndex())]

    def _walk(self, parent: QModelIndex) -> Iterator[QModelIndex]:
        for row in range(self.proxy.rowCount(parent)):
            index = self.proxy.index(row, 0, parent)
            if index.data(RECORD_ROLE) is not None:
                yield index
            else:
                yield from self._walk(index)

    def current_record(self) -> ImageRecord | None:
        return self.tree.currentIndex().siblingAtColumn(0).data(RECORD_ROLE)

    def index_of(self, record: ImageRecord) -> QModelIndex:
        """The tree's index of ``record``'s name cell (invalid when not shown)."""
        items = self._images.get(record.path)
        return QModelIndex() if items is None else self.proxy.mapFromSource(items[0].index())

    def select_record(self, record: ImageRecord) -> None:
        index = self.index_of(record)
        if index.isValid():
            self.tree.setCurrentIndex(index)
            self.tree.scrollTo(index)

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        record = current.siblingAtColumn(0).data(RECORD_ROLE)
        if record is not None:
            self.sig_record_selected.emit(record)

    # -- summary ----------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        kinds = {"p": 0, "s": 0, "e": 0}
        for key in self._nodes:
            kinds[key[0]] += 1
        return {
            "patients": kinds["p"],
            "studies": kinds["s"],
            "series": kinds["e"],
            "images": len(self._images),
        }

    def _update_summary(self) -> None:
        c = self.counts()
        # Only the model in use counts: another model's results are shown, in brackets,
        # until this one has scored the image.
        own = [f for path, f in self._findings.items() if path not in self._made_by]
        flagged = sum(1 for f in own if f.flag is Flag.FRACTURE)
        outside = sum(1 for f in own if f.flag is Flag.OUTSIDE_DOMAIN)
        text = (
            f"{c['patients']} patients \u00b7 {c['studies']} studies \u00b7 "
            f"{c['series']} series \u00b7 {c['images']} images"
        )
        if own:
            # An image that could not be read has a finding, but was not analysed.
            failed = sum(1 for f in own if f.probability is None)
            text += f"\n{len(own) - failed} analysed \u00b7 {flagged} flagged fracture"
            if failed:
                text += f" \u00b7 {failed} not analysed"
            if outside:
                text += f" \u00b7 {outside} outside domain"
        elif self._made_by:
            text += f"\nNot analysed by this model ({len(self._made_by)} by another)"
        self.summary.setText(text)
