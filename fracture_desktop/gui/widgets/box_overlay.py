"""The localiser's boxes drawn over the image: outlines that turn, flip, zoom and pan with it.

Each box is a child item of the image item, in the stored image's pixels (columns, rows),
so the image's orientation transform places it. Its score label ignores that transform: it
stays upright and of one size, bold on a dark plate, just above the box's top-left corner on
screen, and labels of nearby boxes are stacked so that none covers another.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QBrush, QColor, QFont, QPen
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsItem,
    QGraphicsRectItem,
    QGraphicsSimpleTextItem,
)

from fracture_desktop.core.boxes import Box
from fracture_desktop.core.display import BOX_COLOUR

#: What a box's score is, for its tooltip and the Boxes command's.
BOX_SCORE_NOTE = (
    "the box score (0-1) says how strongly the localiser points at this place; it is not "
    "the image's probability of fracture, which the classifier gives for the whole image "
    "(a flagged image's boxes may score low)"
)
LABEL_PADDING = 3  # screen pixels around a label's text
LABEL_FONT_SCALE = 1.15  # a label's font against the application's, bold


def box_tooltip(box: Box) -> str:
    return f"Suspected fracture here. Box score {box.score:.2f}: {BOX_SCORE_NOTE}."


def stack_labels(anchors: list[QPointF], sizes: list[tuple[float, float]]) -> list[QRectF]:
    """Where each label goes on screen: just above its anchor (a box's top-left corner),
    moved down below any label placed before it that it would cover, so none overlap."""
    placed: list[QRectF] = []
    for anchor, (w, h) in zip(anchors, sizes, strict=True):
        rect = QRectF(anchor.x(), anchor.y() - h, w, h)
        moved = True
        while moved:
            moved = False
            for other in placed:
                if rect.intersects(other):
                    rect.moveTop(other.bottom() + 1)
                    moved = True
        placed.append(rect)
    return placed


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
        self.labels: list[QGraphicsRectItem] = []  # each a dark plate holding its text
        self._visible = True
        self.boxes: tuple[Box, ...] = ()

    def set_boxes(self, boxes: tuple[Box, ...]) -> None:
        """Draw ``boxes`` instead of the ones shown; an empty tuple removes them."""
        scene = self._parent.scene()
        for item in self._items:
            if scene is not None:
                scene.removeItem(item)
        self._items, self.labels = [], []
        for box in boxes:
            item, label = self._item(box)
            self._items.append(item)
            self.labels.append(label)
        self.boxes = boxes
        self.set_visible(self._visible)
        self.place_labels()

    def set_visible(self, visible: bool) -> None:
        self._visible = visible
        for item in self._items:
            item.setVisible(visible)

    @property
    def shown(self) -> tuple[Box, ...]:
        """The boxes drawn on screen now (none while hidden)."""
        return self.boxes if self._visible else ()

    def place_labels(self) -> None:
        """Put each label above its box's top-left corner as the box lies on screen now
        (after zoom, pan and turns), stacked where boxes lie close."""
        if not self._items:
            return
        anchors = [item.sceneBoundingRect().topLeft() for item in self._items]
        order = sorted(range(len(anchors)), key=lambda i: (anchors[i].y(), anchors[i].x()))
        sizes = [(label.rect().width(), label.rect().height()) for label in self.labels]
        rects = stack_labels([anchors[i] for i in order], [sizes[i] for i in order])
        for i, rect in zip(order, rects, strict=True):
            self.labels[i].setPos(self._items[i].mapFromScene(rect.topLeft()))

    def _item(self, box: Box) -> tuple[QGraphicsRectItem, QGraphicsRectItem]:
        colour = QColor(*BOX_COLOUR)
        item = QGraphicsRectItem(QRectF(box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0))
        item.setParentItem(self._parent)
        pen = QPen(colour, 2)
        pen.setCosmetic(True)  # two screen pixels at every zoom
        item.setPen(pen)
        item.setZValue(30)  # above the heatmap and the measurements
        item.setToolTip(box_tooltip(box))
        plate = QGraphicsRectItem(item)
        plate.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        plate.setBrush(QBrush(QColor(0, 0, 0, 190)))
        plate.setPen(QPen(colour, 1))
        plate.setToolTip(box_tooltip(box))
        text = QGraphicsSimpleTextItem(f"box {box.score:.2f}", plate)
        font = QFont(QApplication.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * LABEL_FONT_SCALE)
        text.setFont(font)
        text.setBrush(QBrush(colour))
        text.setPos(LABEL_PADDING, LABEL_PADDING / 2)
        size = text.boundingRect()
        plate.setRect(QRectF(0, 0, size.width() + 2 * LABEL_PADDING, size.height() + LABEL_PADDING))
        return item, plate
