"""The localiser's boxes drawn over the image: outlines that turn, flip, zoom and pan with it.

Each box is a child item of the image item, in the stored image's pixels (columns, rows),
so the image's orientation transform places it; its score label ignores that transform and
stays upright and of one size, as text on a light box should.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QGraphicsSimpleTextItem

from fracture_desktop.core.boxes import Box
from fracture_desktop.core.display import BOX_COLOUR


class BoxOverlay:
    """Outlines of suspected fractures on ``parent`` (the image item).

    Parameters
    ----------
    parent : QGraphicsItem
        The item whose pixel coordinates the boxes are in.
    """

    def __init__(self, parent: QGraphicsItem) -> None:
        self._parent = parent
        self._items: list[QGraphicsRectItem] = []
        self._visible = True
        self.boxes: tuple[Box, ...] = ()

    def set_boxes(self, boxes: tuple[Box, ...]) -> None:
        """Draw ``boxes`` instead of the ones shown; an empty tuple removes them."""
        scene = self._parent.scene()
        for item in self._items:
            if scene is not None:
                scene.removeItem(item)
        self._items = [self._item(box) for box in boxes]
        self.boxes = boxes
        self.set_visible(self._visible)

    def set_visible(self, visible: bool) -> None:
        self._visible = visible
        for item in self._items:
            item.setVisible(visible)

    @property
    def shown(self) -> tuple[Box, ...]:
        """The boxes drawn on screen now (none while hidden)."""
        return self.boxes if self._visible else ()

    def _item(self, box: Box) -> QGraphicsRectItem:
        colour = QColor(*BOX_COLOUR)
        item = QGraphicsRectItem(QRectF(box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0))
        item.setParentItem(self._parent)
        pen = QPen(colour, 2)
        pen.setCosmetic(True)  # two screen pixels at every zoom
        item.setPen(pen)
        item.setZValue(30)  # above the heatmap and the measurements
        label = QGraphicsSimpleTextItem(f"{box.score:.2f}", item)
        label.setBrush(QBrush(colour))
        label.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        label.setPos(box.x0, box.y0)
        item.setToolTip(f"Suspected fracture, localiser score {box.score:.2f}")
        return item
