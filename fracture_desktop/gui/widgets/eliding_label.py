"""A one-line label that never widens its window: short of room, it cuts its text with an
ellipsis and its tooltip has the whole text."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

ELLIPSIS = "\u2026"


class ElidingLabel(QLabel):
    """A label whose text is cut at ``mode`` (with "…") when the layout gives it less room
    than the text needs, instead of being clipped mid-letter or forcing its window wider.

    ``text()`` is the whole text; :meth:`shown_text` is what is drawn. A tooltip set with
    ``setToolTip`` is kept; without one, a cut label's tooltip is its whole text.

    Parameters
    ----------
    text : str
        The first text.
    keep : int
        Characters shown at least (the label's minimum width), so that what it is stays
        recognisable; 0 lets it shrink to nothing.
    mode : Qt.TextElideMode
        Where the text is cut.
    """

    def __init__(
        self,
        text: str = "",
        keep: int = 6,
        mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._full = ""
        self._tip = ""
        self._keep, self._mode = keep, mode
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def text(self) -> str:
        return self._full

    def setText(self, text: str) -> None:
        self._full = str(text)
        self.updateGeometry()
        self._refresh()

    def clear(self) -> None:
        self.setText("")

    def setToolTip(self, tip: str) -> None:
        self._tip = tip
        self._refresh()

    def shown_text(self) -> str:
        """The text as drawn: whole, or cut with an ellipsis."""
        return super().text()

    @property
    def elided(self) -> bool:
        return self.shown_text() != self._full

    def sizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        margins = self.contentsMargins()
        width = metrics.horizontalAdvance(self._full) + margins.left() + margins.right() + 2
        return QSize(width, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        hint = self.sizeHint()
        if not self._full or self._keep <= 0:
            return QSize(0, hint.height())
        least = self.fontMetrics().horizontalAdvance(self._full[: self._keep] + ELLIPSIS)
        return QSize(min(hint.width(), least + 2), hint.height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._refresh()

    def _refresh(self) -> None:
        margins = self.contentsMargins()
        room = self.width() - margins.left() - margins.right() - 2
        shown = self.fontMetrics().elidedText(self._full, self._mode, max(room, 0))
        if shown != super().text():
            super().setText(shown)
        whole = shown == self._full
        super().setToolTip(self._tip or ("" if whole else self._full))
