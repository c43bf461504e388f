"""Image cells of two lines: the name, and below it the model's flag in its colour.

The browser and the findings panel sit in side panels a third of a laptop screen wide; a name
and a flag side by side would need twice the width there or cut both.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

#: The flag text of an image cell ("Fracture 82%", "" before analysis); None: one-line cell.
FLAG_TEXT_ROLE = Qt.ItemDataRole.UserRole + 20
#: The QColor of the flag line.
FLAG_COLOUR_ROLE = Qt.ItemDataRole.UserRole + 21


class ImageRowDelegate(QStyledItemDelegate):
    """Draws an image's cell as its thumbnail, its name and, below the name, its flag.

    Two lines beside the 40 px thumbnail keep the panel narrow: a name and a flag side by
    side would need twice the width or cut both. The name is cut in the middle when it must
    be (names of one folder differ at the end); the tooltip has it whole.
    """

    GAP = 6

    def _lines(self, index: QModelIndex) -> tuple[str, str]:
        return str(index.data() or ""), str(index.data(FLAG_TEXT_ROLE) or "")

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        size = super().sizeHint(option, index)
        if index.data(FLAG_TEXT_ROLE) is None:
            return size
        metrics = option.fontMetrics
        has_icon = index.data(Qt.ItemDataRole.DecorationRole) is not None
        icon = option.decorationSize.width() if has_icon else 0
        text = max(metrics.horizontalAdvance(line) for line in self._lines(index))
        height = max(size.height(), 2 * metrics.lineSpacing() + 4)
        return QSize(icon + self.GAP + text + 2 * self.GAP, height)

    @staticmethod
    def row_height(metrics: QFontMetrics) -> int:
        """The height of a row with two lines and no thumbnail."""
        return 2 * metrics.lineSpacing() + 6

    def _prepared(self, option: QStyleOptionViewItem, index: QModelIndex) -> QStyleOptionViewItem:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""  # the style draws background, selection and thumbnail; the text is ours
        return opt

    def _text_area(self, opt: QStyleOptionViewItem) -> QRect:
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        icon = style.subElementRect(QStyle.SubElement.SE_ItemViewItemDecoration, opt, opt.widget)
        left = (icon.right() if icon.isValid() and icon.width() > 0 else opt.rect.left()) + self.GAP
        return QRect(
            left, opt.rect.top(), opt.rect.right() - left - self.GAP // 2, opt.rect.height()
        )

    def shown_lines(self, option: QStyleOptionViewItem, index: QModelIndex) -> tuple[str, str]:
        """The name and the flag as drawn in ``option.rect``: cut to fit, the name in the
        middle, the flag at its end."""
        opt = self._prepared(option, index)
        name, flag = self._lines(index)
        width, metrics = self._text_area(opt).width(), opt.fontMetrics
        return (
            metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, width),
            metrics.elidedText(flag, Qt.TextElideMode.ElideRight, width),
        )

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        if index.data(FLAG_TEXT_ROLE) is None:
            super().paint(painter, option, index)
            return
        opt = self._prepared(option, index)
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        area = self._text_area(opt)
        name, flag = self.shown_lines(option, index)
        line = opt.fontMetrics.lineSpacing()
        top = area.top() + (area.height() - 2 * line) // 2
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.save()
        painter.setFont(opt.font)
        painter.setPen(opt.palette.color(role))
        painter.drawText(QRect(area.left(), top, area.width(), line), align, name)
        colour = index.data(FLAG_COLOUR_ROLE)
        if flag and colour is not None:
            painter.setPen(colour)
        painter.drawText(QRect(area.left(), top + line, area.width(), line), align, flag)
        painter.restore()
