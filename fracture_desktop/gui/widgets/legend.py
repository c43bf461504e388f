"""Colour legend of the heatmap overlay."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

from fracture_desktop.gui.widgets.heatmap_layer import heatmap_lut


class HeatmapLegend(QWidget):
    """A bar from "low" to "high" model attention, painted with the overlay's own table."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(150, 22)
        self.setToolTip("Heatmap: regions that drove the model's score (Grad-CAM)")
        self._stops = heatmap_lut()[::32]

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        bar = QRectF(30, 5, self.width() - 62, self.height() - 10)
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        last = len(self._stops) - 1
        for i, (r, g, b, _a) in enumerate(self._stops):
            gradient.setColorAt(i / last, QColor(int(r), int(g), int(b)))
        painter.fillRect(bar, gradient)
        painter.setPen(self.palette().text().color())
        painter.drawText(QRectF(0, 0, 28, self.height()), Qt.AlignmentFlag.AlignCenter, "low")
        right = QRectF(self.width() - 30, 0, 30, self.height())
        painter.drawText(right, Qt.AlignmentFlag.AlignCenter, "high")
        painter.end()
