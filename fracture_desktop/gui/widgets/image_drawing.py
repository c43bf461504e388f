"""How a radiograph's pixels reach the screen: window, VOI LUT table, inversion, orientation.

Display rule: the ImageItem receives modality values and explicit levels (the window's
lower and upper bounds), row-major; it never picks levels by itself. Non-linear windows and
VOI LUT tables go through the core's :func:`apply_window` / :func:`apply_voi_lut_table`.
Inversion (MONOCHROME1 and the reader's toggle) is a lookup table, so the data stay as loaded.
"""

from __future__ import annotations

from typing import TypeGuard

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QTransform

from fracture_desktop.core.imaging.image import (
    LoadedImage,
    Voi,
    VoiFunction,
    VoiLut,
    VoiWindow,
    apply_voi_lut_table,
    apply_window,
)

INVERTED_LUT = np.arange(255, -1, -1, dtype=np.uint8)


def _linear(voi: Voi | None) -> TypeGuard[VoiWindow]:
    """Whether ``voi`` is a straight window that the item's levels alone can show."""
    return isinstance(voi, VoiWindow) and voi.function is not VoiFunction.SIGMOID


def draw_voi(item: pg.ImageItem, image: LoadedImage, voi: Voi, was: Voi | None) -> None:
    """Show greyscale ``image`` in ``item`` through ``voi``; ``was`` is the window shown before.

    A linear window after a linear window on the same pixels changes only the item's levels,
    so dragging the window copies no data.
    """
    if _linear(voi):
        levels = (voi.lower, voi.upper)
        if _linear(was) and item.image is image.values:
            item.setLevels(levels)
        else:
            item.setImage(image.values, autoLevels=False, levels=levels)
        return
    shown = (
        apply_voi_lut_table(image.values, voi)
        if isinstance(voi, VoiLut)
        else apply_window(image.values, voi)
    )
    item.setImage(shown, autoLevels=False, levels=(0.0, 1.0))


def inverted_on_screen(image: LoadedImage, user_invert: bool) -> bool:
    """High values show dark: MONOCHROME1 (or an inverse Presentation LUT), unless the
    reader inverted it back (``user_invert``), or a MONOCHROME2 image the reader inverted."""
    return image.invert != user_invert


def draw_inversion(item: pg.ImageItem, image: LoadedImage, user_invert: bool) -> None:
    """Show ``image`` in ``item`` inverted or not, as ``user_invert`` and the image say.

    Greyscale: a lookup table (see :func:`inverted_on_screen`). Colour: the reader's toggle
    only, and the data are set here with levels 0-255.
    """
    if image.is_colour:
        shown = 255 - image.values if user_invert else image.values
        item.setImage(shown, autoLevels=False, levels=(0, 255))
    else:
        item.setLookupTable(INVERTED_LUT if inverted_on_screen(image, user_invert) else None)


def orientation(shape: tuple[int, int], rotation: int, flipped: bool) -> QTransform:
    """The item's transform for an image of ``shape`` (rows, columns): mirrored left-right
    when ``flipped``, then turned ``rotation`` degrees clockwise, about the image's centre."""
    rows, cols = shape
    t = QTransform()
    t.translate(cols / 2, rows / 2)
    t.rotate(rotation)
    if flipped:
        t.scale(-1, 1)
    t.translate(-cols / 2, -rows / 2)
    return t
