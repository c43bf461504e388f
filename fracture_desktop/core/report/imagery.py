"""Key images for reports: the displayed image and its heatmap overlay, small and compressed."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from fracture_desktop.core.imaging.image import (
    LoadedImage,
    VoiLut,
    VoiWindow,
    default_voi,
    display_grey,
)
from fracture_desktop.core.report.model import KeyImage

#: Longest side of a key image: sharp at the ~8 cm a PDF gives it, small in memory.
MAX_SIDE = 512
JPEG_QUALITY = 88
#: Opacity of the colour over the image at heat 1; it falls linearly to 0 at heat 0, as
#: in the viewer, so only the regions that drove the score are tinted.
MAX_ALPHA = 0.6
# Anchors of matplotlib's "inferno" (the viewer's heatmap colormap) at 0, 1/4, ... 1:
# perceptually uniform and readable in grey print.
_RAMP = np.array(
    [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], dtype=np.float32
)


def window_label(voi: VoiWindow | VoiLut | None, explanation: bool = True) -> str:
    """A short description of a display transform, worded as the viewer's corner text.

    E.g. ``"W 400 L 40 (BONE)"``; ``"colour"`` for colour images, which have no window.
    With ``explanation`` false the file's free text is left out (``"W 400 L 40"``): Window
    Center & Width Explanation (0028,1055) and LUT Explanation (0028,3003) are free text a
    site may fill with anything, names included.
    """
    if voi is None:
        return "colour"
    if isinstance(voi, VoiLut):
        return f"VOI LUT {voi.explanation if explanation else ''}".strip()
    values = f"W {voi.width:.0f} L {voi.center:.0f}"
    return f"{values} ({voi.explanation or 'window'})" if explanation else values


def _heat_lut() -> np.ndarray:
    """256 RGB colours along :data:`_RAMP`, so colouring is one table lookup per pixel."""
    position = np.linspace(0.0, len(_RAMP) - 1, 256, dtype=np.float32)
    low = np.floor(position).astype(np.intp)
    high = np.minimum(low + 1, len(_RAMP) - 1)
    t = (position - low)[:, None]
    return _RAMP[low] * (1.0 - t) + _RAMP[high] * t


_HEAT_LUT = _heat_lut()


def heat_colours(heat: np.ndarray) -> np.ndarray:
    """RGB float32 colours (0..255) for heat values in [0, 1]."""
    index = (np.clip(heat, 0.0, 1.0) * 255.0).astype(np.uint8)
    return _HEAT_LUT[index]


def overlay(grey: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """Blend ``heat`` (same shape as ``grey``, both in [0, 1]) over the grey image, as uint8 RGB."""
    base = np.repeat((np.clip(grey, 0.0, 1.0) * 255.0)[..., None], 3, axis=2)
    alpha = np.clip(heat, 0.0, 1.0)[..., None] * MAX_ALPHA
    return (base * (1.0 - alpha) + heat_colours(heat) * alpha).round().astype(np.uint8)


def _shrink(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float [0, 1] image to ``size`` (width, height) with antialiasing."""
    if (array.shape[1], array.shape[0]) == size:
        return array.astype(np.float32, copy=False)
    resized = Image.fromarray(np.asarray(array, dtype=np.float32)).resize(
        size, Image.Resampling.BILINEAR, reducing_gap=2.0
    )
    return np.asarray(resized, dtype=np.float32)


def _jpeg(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def make_key_image(
    grey: np.ndarray,
    heatmap: np.ndarray | None = None,
    window: str = "",
    max_side: int = MAX_SIDE,
    window_values: str = "",
) -> KeyImage:
    """Make the report's pictures of one image.

    Parameters
    ----------
    grey : np.ndarray
        Display values in [0, 1], bone bright: the output of
        :func:`~fracture_desktop.core.imaging.image.display_grey`.
    heatmap : np.ndarray, optional
        Heat in [0, 1] with ``grey``'s shape (``Prediction.heatmap``).
    window : str
        Label of the display transform (see :func:`window_label`).
    max_side : int
        Longest side of the result in pixels; smaller images keep their size.
    window_values : str
        The label without the file's free text, for de-identified reports.
    """
    rows, cols = grey.shape
    scale = min(1.0, max_side / max(rows, cols))
    size = (max(1, round(cols * scale)), max(1, round(rows * scale)))
    small = _shrink(grey, size)
    display = _jpeg((np.clip(small, 0.0, 1.0) * 255.0).round().astype(np.uint8))
    blended = None
    if heatmap is not None:
        blended = _jpeg(overlay(small, _shrink(heatmap, size)))
    return KeyImage(display, blended, size[0], size[1], window, window_values)


def key_image_of(image: LoadedImage, heatmap: np.ndarray | None = None) -> KeyImage:
    """The key image of ``image`` as the viewer first shows it (default window, bone bright).

    Parameters
    ----------
    image : LoadedImage
        The decoded image.
    heatmap : np.ndarray, optional
        ``Prediction.heatmap`` for ``image``, blended into the overlay picture.
    """
    voi = None if image.is_colour else default_voi(image)
    labels = window_label(voi), window_label(voi, explanation=False)
    return make_key_image(display_grey(image, voi), heatmap, labels[0], window_values=labels[1])
