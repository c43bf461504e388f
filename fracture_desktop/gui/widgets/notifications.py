"""Where errors from any thread reach the reader: a short line, details on demand."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QHBoxLayout, QMessageBox, QPushButton, QWidget

from fracture_desktop.gui.widgets.eliding_label import ElidingLabel


@dataclass(frozen=True)
class Notice:
    reason: str
    details: str


class NotificationArea(QWidget):
    """Status-bar widget: the latest problem in one line and a Details button.

    The details open in a non-modal message box, so a burst of errors never blocks reading.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.notices: list[Notice] = []
        self.label = ElidingLabel("", keep=4)  # a long reason never widens the window
        self.label.setObjectName("notice")
        self.details_button = QPushButton("Details\u2026")
        self.details_button.setFlat(True)
        self.details_button.setVisible(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.details_button)
        self.details_button.clicked.connect(self.show_details)
        self._box: QMessageBox | None = None

    def notify(self, reason: str, details: str = "") -> None:
        self.notices.append(Notice(reason, details))
        self.label.setText("\u26a0 " + reason)
        self.label.setToolTip(reason)
        self.details_button.setVisible(True)

    def show_details(self) -> None:
        if not self.notices:
            return
        notice = self.notices[-1]
        box = QMessageBox(QMessageBox.Icon.Warning, "Problem", notice.reason, parent=self)
        box.setDetailedText(notice.details or "No further details.")
        box.setModal(False)
        box.open()
        self._box = box  # keep a reference while it is shown
