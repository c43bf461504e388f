"""Measurement rulers drawn on the image: drag to measure, several per image, latest deleted first.

A ruler is a line that is a child of the image item, so it turns and flips with the image,
and a label placed at its end in view coordinates. The distance itself is computed by
:func:`fracture_desktop.core.measure.distance` from the image's pixel spacing.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsLineItem

from fracture_desktop.core.imaging.image import PixelSpacing
from fracture_desktop.core.measure import Distance, Measurement, distance
from fracture_desktop.gui.widgets.viewbox import ReadingViewBox

MEASURE_COLOUR = "#4fc3f7"


@dataclass
class Ruler:
    """One measurement drawn on the image: its line, its label and what it measured."""

    line: QGraphicsLineItem
    label: pg.TextItem
    distance: Distance | None = None

    @classmethod
    def create(cls, image_item: pg.ImageItem, viewbox: pg.ViewBox) -> Ruler:
        line = QGraphicsLineItem(image_item)  # a child: it turns and flips with the image
        pen = QPen(QColor(MEASURE_COLOUR), 2)
        pen.setCosmetic(True)  # same thickness at every zoom
        line.setPen(pen)
        line.setZValue(20)
        label = pg.TextItem(color=MEASURE_COLOUR, anchor=(0, 1), fill=(0, 0, 0, 160))
        viewbox.addItem(label, ignoreBounds=True)
        return cls(line, label)


class Rulers:
    """The measurements of the shown image, oldest first, and the one being drawn.

    Parameters
    ----------
    graphics : pg.GraphicsView
        The view's scene holder: rulers are removed from its scene, its cursor shows the mode.
    viewbox : ReadingViewBox
        Holds the labels; its ``measuring`` flag turns left drags into measurements.
    image_item : pg.ImageItem
        The image the lines are drawn on, in its pixel coordinates.
    """

    def __init__(
        self, graphics: pg.GraphicsView, viewbox: ReadingViewBox, image_item: pg.ImageItem
    ) -> None:
        self._graphics = graphics
        self._viewbox = viewbox
        self._image_item = image_item
        self._rulers: list[Ruler] = []  # the image's measurements, oldest first
        self._drawing: Ruler | None = None  # the one the mouse is drawing

    @property
    def distances(self) -> list[Distance]:
        """The image's measurements, oldest first."""
        return [r.distance for r in self._rulers if r.distance is not None]

    @property
    def measurements(self) -> tuple[Measurement, ...]:
        """The finished measurements, in the image's pixels, oldest first."""
        found = []
        for ruler in self._rulers:
            if ruler.distance is not None and ruler is not self._drawing:
                line = ruler.line.line()
                start, end = (line.x1(), line.y1()), (line.x2(), line.y2())
                found.append(Measurement(start, end, ruler.distance))
        return tuple(found)

    def draw(self, measurements: tuple[Measurement, ...]) -> None:
        """Draw ``measurements`` (made earlier on this image) instead of the rulers shown."""
        self.clear()
        for measurement in measurements:
            ruler = Ruler.create(self._image_item, self._viewbox)
            (x1, y1), (x2, y2) = measurement.start, measurement.end
            ruler.line.setLine(x1, y1, x2, y2)
            ruler.distance = measurement.distance
            ruler.label.setText(measurement.distance.label)
            self._rulers.append(ruler)
        self.place_labels()

    def delete_last(self) -> bool:
        """Remove the latest measurement; False when there is none."""
        if not self._rulers:
            return False
        self._remove(self._rulers.pop())
        return True

    def clear(self) -> None:
        """Remove every measurement of the image."""
        while self.delete_last():
            pass

    def _remove(self, ruler: Ruler) -> None:
        # Take the items out of the scene now: left to the garbage collector, a pyqtgraph
        # item may outlive its scene and be freed during interpreter shutdown.
        self._graphics.scene().removeItem(ruler.line)
        self._viewbox.removeItem(ruler.label)
        if ruler is self._drawing:
            self._drawing = None

    def set_measuring(self, on: bool) -> None:
        """Left drags measure (crosshair cursor) or pan (arrow)."""
        self._viewbox.measuring = on
        self._graphics.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)

    def drag(
        self, start: QPointF, end: QPointF, finished: bool, spacing: PixelSpacing | None
    ) -> Distance | None:
        """Draw the ruler of the current drag from ``start`` to ``end`` (scene positions).

        Returns
        -------
        Distance or None
            The measured distance once the drag is ``finished``, else None.
        """
        if self._drawing is None:  # a new drag: a new measurement beside the earlier ones
            self._drawing = Ruler.create(self._image_item, self._viewbox)
            self._rulers.append(self._drawing)
        ruler = self._drawing
        a = self._image_item.mapFromScene(start)
        b = self._image_item.mapFromScene(end)
        ruler.line.setLine(a.x(), a.y(), b.x(), b.y())
        ruler.distance = distance((a.x(), a.y()), (b.x(), b.y()), spacing)
        ruler.label.setText(ruler.distance.label)
        self.place_labels()
        if not finished:
            return None
        self._drawing = None
        return ruler.distance

    def place_labels(self) -> None:
        """Put each label at its line's end, wherever the image is turned."""
        for ruler in self._rulers:
            ruler.label.setPos(self._image_item.mapToParent(ruler.line.line().p2()))
