"""The image view: one radiograph with window/level, zoom, orientation, measurement, heatmap.

The pixels reach the screen by the display rule of
:mod:`~fracture_desktop.gui.widgets.image_drawing`; the original pixels are never altered.
The heatmap is a second ImageItem drawn above.

The display choices (window, inversion, orientation, overlays, heatmap) live in the reading
session's :class:`~fracture_desktop.core.display.DisplayState`: the view writes the reader's
changes there and draws whatever the session holds.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QVBoxLayout, QWidget

from fracture_desktop.core.display import (
    DisplayState,
    orientation_label,
    pixel_readout,
    window_label,
)
from fracture_desktop.core.imaging.image import LoadedImage, Voi, VoiWindow, auto_window
from fracture_desktop.core.imaging.records import ImageRecord
from fracture_desktop.core.measure import Distance
from fracture_desktop.core.session import ReadingSession
from fracture_desktop.gui.controllers.images import Loaded
from fracture_desktop.gui.widgets.box_overlay import BoxOverlay
from fracture_desktop.gui.widgets.heatmap_layer import HeatmapLayer
from fracture_desktop.gui.widgets.image_drawing import (
    draw_inversion,
    draw_voi,
    inverted_on_screen,
    orientation,
)
from fracture_desktop.gui.widgets.overlays import ImageOverlays, corner_texts, warning_text
from fracture_desktop.gui.widgets.rulers import Rulers
from fracture_desktop.gui.widgets.viewbox import ReadingViewBox
from fracture_desktop.gui.windowing import dragged_window

ZOOM_STEP = 1.25


class ImageView(QWidget):
    """Shows one :class:`LoadedImage` the way ``session.display`` says.

    Parameters
    ----------
    session : ReadingSession
        Holds the display state this view writes and draws.
    """

    sig_cursor_text = Signal(str)
    sig_window_text = Signal(str)
    sig_measured = Signal(object)  # the latest Distance, or None when none is left
    sig_measuring = Signal(bool)  # whether left drags measure from now on

    def __init__(self, session: ReadingSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self.graphics = pg.GraphicsView(background=QColor(0, 0, 0))
        self.viewbox = ReadingViewBox()
        self.graphics.setCentralItem(self.viewbox)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.viewbox.addItem(self.image_item)
        self.heatmap = HeatmapLayer(self.image_item)
        self.box_overlay = BoxOverlay(self.image_item)
        self.rulers = Rulers(self.graphics, self.viewbox, self.image_item)
        self.overlays = ImageOverlays(self.graphics)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)

        self.record: ImageRecord | None = None
        self.image: LoadedImage | None = None
        self.presets: list[Voi] = []
        self.position_text = ""
        self._flag = ("", "")  # the model's flag of the image, and its colour
        self._span = 1.0
        self._default: Voi | None = None
        self._drawn: DisplayState | None = None  # what the image is drawn with; None: nothing
        session.events.display.connect(self._draw)

        self.viewbox.sig_window_drag.connect(self._on_window_drag)
        self.viewbox.sig_measure_drag.connect(self._on_measure_drag)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.viewbox.sigRangeChanged.connect(lambda *_: self._update_corners())
        # Box labels keep their size on screen: placed again whenever the view moves.
        self.viewbox.sigTransformChanged.connect(lambda *_: self.box_overlay.place_labels())
        self.clear_measurement()
        self._draw(session.display)

    # -- display state ----------------------------------------------------------------------

    @property
    def display(self) -> DisplayState:
        return self._session.display

    @property
    def voi(self) -> Voi | None:
        return self.display.voi

    @property
    def user_invert(self) -> bool:
        return self.display.invert

    @property
    def rotation(self) -> int:
        return self.display.rotation

    @property
    def flipped(self) -> bool:
        return self.display.flipped

    def _draw(self, new: DisplayState) -> None:
        """Bring the drawing up to ``new``, redoing only what changed since the last draw."""
        old, self._drawn = self._drawn, new
        self.heatmap.show(new.heatmap_visible, new.heatmap_opacity)
        self.box_overlay.set_visible(new.boxes_visible)
        if self.image is not None:
            if new.voi is not None and (old is None or new.voi is not old.voi):
                self._draw_voi(new.voi, None if old is None else old.voi)
            if old is None or new.invert != old.invert:
                self._apply_lut()  # for colour this also sets the data, levels 0-255
            if old is None or (new.rotation, new.flipped) != (old.rotation, old.flipped):
                self._apply_orientation()
        self._update_corners()

    def _redraw(self, **changes: object) -> None:
        """Draw everything afresh (a new image) with ``changes`` made to the display state."""
        self._drawn = None
        self._session.update_display(**changes)
        if self._drawn is None:  # the state did not change, so no event drew it
            self._draw(self.display)

    # -- image and window -------------------------------------------------------------------

    def set_image(self, loaded: Loaded, position_text: str) -> None:
        """Show a prepared image with its default window, upright and fitted."""
        self.record, self.image, self.position_text = loaded.record, loaded.image, position_text
        self._flag = ("", "")  # the reading controller says the new image's
        self.show_message("")
        self.set_heatmap(None)
        self.box_overlay.set_boxes(())
        self.presets = list(loaded.presets)
        self._default = loaded.default
        self._span = loaded.span
        self.reset()
        self._show_measurements()

    def set_frame(self, loaded: Loaded, position_text: str) -> None:
        """Show another frame of the shown record, keeping window, zoom and orientation.

        The heatmap, boxes and measurements belong to the frame they were made on: the
        frame's own measurements are shown instead.
        """
        self.image, self.position_text = loaded.image, position_text
        self.set_heatmap(None)
        self.box_overlay.set_boxes(())
        self._show_measurements()
        voi = None if loaded.image.is_colour else self.voi or self._default
        self._session.update_display(voi=voi)
        # The same window over the new pixels; orientation and zoom stay as they are.
        if voi is None:
            self._apply_lut()  # for colour this also sets the data
        else:
            self._draw_voi(voi, None)
        self._update_corners()

    def set_flag(self, text: str, colour: str = "") -> None:
        """Say the model's flag of the image on show over it ("" says nothing)."""
        if (text, colour) != self._flag:
            self._flag = (text, colour)
            self._update_corners()

    @property
    def flag_text(self) -> str:
        """The flag said over the image ("" when none is)."""
        return self._flag[0] if self.overlays.flag.isVisible() else ""

    def set_position_text(self, text: str) -> None:
        """Where the image lies among those listed (``"Image 3 / 9"``), in the corner."""
        if text != self.position_text:
            self.position_text = text
            self._update_corners()

    def clear_image(self) -> None:
        self.record = self.image = None
        self._flag = ("", "")
        self.presets = []
        self.image_item.clear()
        self.set_heatmap(None)
        self.box_overlay.set_boxes(())
        self.clear_measurement()
        self._session.update_display(voi=None)
        self._update_corners()

    def set_voi(self, voi: Voi) -> None:
        """Show the image through ``voi`` (a window or a VOI LUT table)."""
        if self.image is not None and not self.image.is_colour:
            self._session.update_display(voi=voi)

    def _draw_voi(self, voi: Voi, was: Voi | None) -> None:
        if self.image is not None and not self.image.is_colour:
            draw_voi(self.image_item, self.image, voi, was)
            self.sig_window_text.emit(self.window_text)

    @property
    def window_text(self) -> str:
        if self.image is None:
            return ""
        return window_label(self.voi)

    def apply_preset(self, index: int) -> bool:
        """Preset ``index`` (0-based, number key minus one); False when there is none."""
        if not 0 <= index < len(self.presets):
            return False
        self.set_voi(self.presets[index])
        return True

    def _on_window_drag(self, dx: float, dy: float) -> None:
        if self.image is None or self.image.is_colour:
            return
        start = self.voi if isinstance(self.voi, VoiWindow) else auto_window(self.image.values)
        self.set_voi(dragged_window(start, dx, dy, self._span, self.inverted_on_screen))

    @property
    def inverted_on_screen(self) -> bool:
        """High values show dark (see :func:`inverted_on_screen`); False with no image."""
        return self.image is not None and inverted_on_screen(self.image, self.user_invert)

    def set_inverted(self, inverted: bool) -> None:
        self._session.update_display(invert=inverted)

    def _apply_lut(self) -> None:
        if self.image is not None:
            draw_inversion(self.image_item, self.image, self.user_invert)

    # -- geometry ---------------------------------------------------------------------------

    def fit(self) -> None:
        """Whole image in view."""
        if self.image is not None:
            rect = self.image_item.mapRectToParent(self.image_item.boundingRect())
            self.viewbox.setRange(rect=rect, padding=0.02)

    def actual_size(self) -> None:
        """One image pixel per screen pixel, around the current centre."""
        if self.image is None:
            return
        centre = self.viewbox.viewRect().center()
        w, h = self.viewbox.width(), self.viewbox.height()
        self.viewbox.setRange(
            rect=QRectF(centre.x() - w / 2, centre.y() - h / 2, w, h), padding=0.0
        )

    @property
    def zoom(self) -> float:
        """Screen pixels per image pixel (the aspect ratio is locked: one number)."""
        shown = self.viewbox.viewRect().width()
        return self.viewbox.width() / shown if shown > 0 else 1.0

    @property
    def zoom_text(self) -> str:
        """``"Zoom 125%"``: screen pixels per image pixel, as a percentage."""
        return f"Zoom {self.zoom:.0%}" if self.image is not None else ""

    def zoom_by(self, factor: float) -> None:
        """Zoom around the view centre (keys); the wheel zooms toward the cursor."""
        self.viewbox.scaleBy(s=(1.0 / factor, 1.0 / factor))

    def rotate(self, degrees: int = 90) -> None:
        """Turn by ``degrees`` on screen: 90 clockwise, -90 counter-clockwise."""
        self._session.update_display(rotation=(self.rotation + degrees) % 360)

    def flip(self) -> None:
        """Mirror left-right on screen, however the image is turned.

        The drawing is ``rotate(r)`` after ``mirror`` (see :meth:`_apply_orientation`); a
        mirror on screen after it equals ``rotate(-r)`` after the opposite mirror.
        """
        self._session.update_display(rotation=-self.rotation % 360, flipped=not self.flipped)

    def flip_vertical(self) -> None:
        """Mirror top-bottom on screen: a half turn after a left-right mirror."""
        rotation = (180 - self.rotation) % 360
        self._session.update_display(rotation=rotation, flipped=not self.flipped)

    def reset(self) -> None:
        """Default window, no inversion, upright, fitted; heatmap and measurement stay."""
        if self.image is not None:
            voi = None if self.image.is_colour else self._default
            self._redraw(voi=voi, invert=False, rotation=0, flipped=False)

    def _apply_orientation(self) -> None:
        if self.image is None:
            return
        self.image_item.setTransform(orientation(self.image.shape, self.rotation, self.flipped))
        self.fit()
        self.rulers.place_labels()
        self.box_overlay.place_labels()

    # -- cursor readout ---------------------------------------------------------------------

    def pixel_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        """``(column, row)`` under a scene position, or None outside the image."""
        if self.image is None:
            return None
        p = self.image_item.mapFromScene(scene_pos)
        col, row = math.floor(p.x()), math.floor(p.y())
        rows, cols = self.image.shape
        return (col, row) if 0 <= col < cols and 0 <= row < rows else None

    def readout(self, col: int, row: int) -> str:
        """Status-bar text for pixel ``(col, row)``."""
        assert self.image is not None
        return pixel_readout(self.image, col, row)

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        pixel = self.pixel_at(scene_pos)
        self.sig_cursor_text.emit("" if pixel is None else self.readout(*pixel))

    # -- measurements -----------------------------------------------------------------------

    @property
    def measurements(self) -> list[Distance]:
        """The image's measurements, oldest first."""
        return self.rulers.distances

    @property
    def measurement(self) -> Distance | None:
        """The latest measurement."""
        found = self.measurements
        return found[-1] if found else None

    def delete_last_measurement(self) -> bool:
        """Remove the latest measurement; False when there is none."""
        deleted = self.rulers.delete_last()
        if deleted:
            self._keep_measurements()
            self.sig_measured.emit(self.measurement)  # the one before, or none
        return deleted

    def set_measuring(self, on: bool) -> None:
        self.rulers.set_measuring(on)
        self.sig_measuring.emit(on)

    def clear_measurement(self) -> None:
        """Remove every measurement of the image."""
        had = bool(self.measurements)
        self.rulers.clear()
        if had:
            self._keep_measurements()
            self.sig_measured.emit(None)

    def _keep_measurements(self) -> None:
        """Keep the image's measurements in the session, for when the reader comes back."""
        if self.record is not None and self.image is not None:
            measurements = self.rulers.measurements
            self._session.set_measurements(self.record.path, self.image.frame, measurements)

    def _show_measurements(self) -> None:
        """Draw the measurements kept for the image and frame on show (none: a clean image)."""
        kept = ()
        if self.record is not None and self.image is not None:
            kept = self._session.measurements_of(self.record.path, self.image.frame)
        self.rulers.draw(kept)
        if kept:
            self.sig_measured.emit(self.measurement)

    def _on_measure_drag(self, start: QPointF, end: QPointF, finished: bool) -> None:
        if self.image is None:
            return
        measured = self.rulers.drag(start, end, finished, self.image.spacing)
        if measured is not None:
            self._keep_measurements()
            self.sig_measured.emit(measured)

    # -- heatmap ----------------------------------------------------------------------------

    def set_heatmap(self, heatmap: np.ndarray | None) -> None:
        """Overlay a [0, 1] map of the image's shape; None removes it."""
        self.heatmap.set(heatmap, self.display.heatmap_visible)

    @property
    def has_heatmap(self) -> bool:
        return self.heatmap.present

    # -- corner overlays --------------------------------------------------------------------

    def corner_texts(self) -> list[str]:
        """Top-left, top-right, bottom-left, bottom-right."""
        turned = orientation_label(self.rotation, self.flipped) if self.image else ""
        shown = [self.position_text, self.zoom_text, self.window_text, turned]
        return corner_texts(self.record, self.image, shown)

    @property
    def warning_text(self) -> str:
        """The shown image's warnings, as drawn over it ("" when it has none)."""
        return warning_text(self.image)

    @property
    def message_text(self) -> str:
        """What the view says instead of an image ("" while it shows one)."""
        return self.overlays.message_text

    def show_message(self, text: str) -> None:
        """Say ``text`` in the middle of the view (an empty folder, an image that failed)."""
        self.overlays.show_message(text)
        self.overlays.place()

    def _update_corners(self) -> None:
        self.overlays.show_corners(self.corner_texts(), self.display.overlays)
        self.overlays.show_flag(*self._flag, self.display.overlays)
        # Warnings are shown even with the overlays off: they concern what the image shows.
        self.overlays.show_warning(self.warning_text)
        self.overlays.place()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.overlays.place()
