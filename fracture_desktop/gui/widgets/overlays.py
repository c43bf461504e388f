"""Texts drawn over the image: the four corner overlays, the model's flag, the image's
warnings, the view's message.

They are plain labels on top of the graphics view (not scene items), so they stay the same
size and in the same place whatever the zoom and orientation.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsDropShadowEffect, QLabel, QWidget

from fracture_desktop.core.imaging.image import LoadedImage
from fracture_desktop.core.imaging.records import ImageRecord

MARGIN = 8  # screen pixels between an overlay and the view's edge


#: The header's laterality as the corner says it (PS3.3 C.7.6.2: L, R, B both, U unpaired).
SIDES = {"L": "Left side", "R": "Right side", "B": "Both sides", "U": "Unpaired"}


def corner_texts(
    record: ImageRecord | None, image: LoadedImage | None, shown: Sequence[str]
) -> list[str]:
    """Top-left, top-right, bottom-left, bottom-right: patient, study, acquisition, and
    ``shown`` (how the view shows the image: position, zoom, window); all empty without one.
    """
    r = record
    if r is None or image is None:
        return ["", "", "", ""]
    calibration = "uncalibrated" if image.spacing is None else ""
    side = SIDES.get(r.laterality.upper(), r.laterality)
    return [
        "\n".join(filter(None, [r.patient_name, r.patient_id, r.patient_birth_date])),
        "\n".join(filter(None, [r.study_date, r.study_description, r.series_description])),
        "\n".join(filter(None, [r.modality, r.body_part, r.view_position, side, calibration])),
        "\n".join(filter(None, shown)),
    ]


def warning_text(image: LoadedImage | None) -> str:
    """The image's warnings, as drawn over it ("" when it has none)."""
    warnings = image.warnings if image is not None else ()
    return "\u26a0 " + "\n\u26a0 ".join(warnings) if warnings else ""


def overlay_label(parent: QWidget, name: str) -> QLabel:
    """A text drawn over the image on a translucent dark box (resources/style/dark.qss),
    edged by a shadow, so that it stays readable on bright bone, after Invert, as on the
    black background; clicks go through to the image."""
    label = QLabel(parent)
    label.setObjectName(name)
    label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
    shadow = QGraphicsDropShadowEffect(label)
    shadow.setColor(QColor(0, 0, 0, 230))
    shadow.setBlurRadius(4)
    shadow.setOffset(1, 1)
    label.setGraphicsEffect(shadow)
    label.setVisible(False)
    return label


class ImageOverlays:
    """The labels drawn over ``parent``, and where they go when it changes size.

    Parameters
    ----------
    parent : QWidget
        The widget the image is drawn in.
    """

    def __init__(self, parent: QWidget) -> None:
        self._parent = parent
        #: Top-left, top-right, bottom-left, bottom-right.
        self.corners = [overlay_label(parent, "cornerOverlay") for _ in range(4)]
        # The model's flag of the image on show, in its colour, under the warnings.
        self.flag = overlay_label(parent, "flagOverlay")
        # What the reader must know about this image (data ends early, decoder notes).
        self.warning = overlay_label(parent, "imageWarning")
        self.warning.setWordWrap(True)
        # What the view shows instead of an image: the empty folder, the failed decode.
        self.message = overlay_label(parent, "viewMessage")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)

    def show_corners(self, texts: list[str], visible: bool) -> None:
        """Set the four corner texts; an empty one, or all with ``visible`` False, are hidden."""
        for label, text in zip(self.corners, texts, strict=True):
            label.setText(text)
            label.adjustSize()
            label.setVisible(visible and bool(text))

    def show_flag(self, text: str, colour: str, visible: bool) -> None:
        """The model's flag (``"Model: Fracture 82%"``) in ``colour``; "" hides it."""
        self.flag.setText(text)
        self.flag.setStyleSheet(f"color: {colour};" if colour else "")
        self.flag.adjustSize()
        self.flag.setVisible(visible and bool(text))

    def show_warning(self, text: str) -> None:
        self.warning.setText(text)
        self.warning.setVisible(bool(text))

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    @property
    def message_text(self) -> str:
        """The message shown ("" when none is)."""
        return self.message.text() if self.message.isVisible() else ""

    def place(self) -> None:
        """Corners in the corners; warning at the top and message in the middle, centred."""
        w, h, m = self._parent.width(), self._parent.height(), MARGIN
        for label in (self.warning, self.message):  # centred, at most half the width
            label.setFixedWidth(max(w // 2, 1))
            label.adjustSize()
        self.warning.move((w - self.warning.width()) // 2, m)
        below = m + (self.warning.height() + m // 2 if self.warning.isVisible() else 0)
        self.flag.move((w - self.flag.width()) // 2, below)
        self.message.move((w - self.message.width()) // 2, (h - self.message.height()) // 2)
        tl, tr, bl, br = self.corners
        tl.move(m, m)
        tr.move(w - tr.width() - m, m)
        bl.move(m, h - bl.height() - m)
        br.move(w - br.width() - m, h - br.height() - m)
        for label in (tr, br):
            label.setAlignment(Qt.AlignmentFlag.AlignRight)
