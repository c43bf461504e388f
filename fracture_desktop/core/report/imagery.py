"""Key images for reports: the displayed image, and its heatmap and fracture boxes drawn over
it, small and compressed."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

from fracture_desktop.core.boxes import Box
from fracture_desktop.core.display import BOX_COLOUR, heat_colours, window_label
from fracture_desktop.core.imaging.image import LoadedImage, default_voi, display_grey
from fracture_desktop.core.report.entries import KeyImage

#: Longest side of a key image: sharp at the ~8 cm a PDF gives it, small in memory.
MAX_SIDE = 512
JPEG_QUALITY = 88
#: Opacity of the colour over the image at heat 1; it falls linearly to 0 at heat 0, as
#: in the viewer, so only the regions that drove the score are tinted.
MAX_ALPHA = 0.6
HEATMAP_CAPTION = "Heatmap overlay (Grad-CAM): brighter = more weight in the score"
BOXES_CAPTION = "Suspected fractures (localiser boxes, with their scores)"


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


def draw_boxes(picture: np.ndarray, boxes: tuple[Box, ...], scale: float) -> np.ndarray:
    """Outline ``boxes`` (stored-image pixels) on an RGB ``picture`` shrunk by ``scale``,
    each with its score above it."""
    out = Image.fromarray(picture)
    draw = ImageDraw.Draw(out)
    width = max(2, round(max(picture.shape[:2]) / 256))
    for box in boxes:
        x0, y0, x1, y1 = (v * scale for v in (box.x0, box.y0, box.x1, box.y1))
        draw.rectangle((x0, y0, x1, y1), outline=BOX_COLOUR, width=width)
        draw.text((x0, max(0.0, y0 - 12)), f"{box.score:.2f}", fill=BOX_COLOUR)
    return np.asarray(out)


def make_key_image(
    grey: np.ndarray,
    heatmap: np.ndarray | None = None,
    window: str = "",
    max_side: int = MAX_SIDE,
    boxes: tuple[Box, ...] = (),
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
    boxes : tuple of Box
        Suspected fractures in ``grey``'s pixels, outlined on the overlay picture.
    window_values : str
        The label without the file's free text, for de-identified reports.
    """
    rows, cols = grey.shape
    scale = min(1.0, max_side / max(rows, cols))
    size = (max(1, round(cols * scale)), max(1, round(rows * scale)))
    small = _shrink(grey, size)
    base = (np.clip(small, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    display = _jpeg(base)
    if heatmap is None and not boxes:
        return KeyImage(display, None, size[0], size[1], window, window_values=window_values)
    picture = (
        overlay(small, _shrink(heatmap, size))
        if heatmap is not None
        else np.repeat(base[..., None], 3, axis=2)
    )
    captions = [HEATMAP_CAPTION] if heatmap is not None else []
    if boxes:
        picture = draw_boxes(picture, boxes, scale)
        captions.append(BOXES_CAPTION)
    return KeyImage(
        display, _jpeg(picture), size[0], size[1], window, "; ".join(captions), window_values
    )


def key_image_of(
    image: LoadedImage, heatmap: np.ndarray | None = None, boxes: tuple[Box, ...] = ()
) -> KeyImage:
    """The key image of ``image`` as the viewer first shows it (default window, bone bright).

    Parameters
    ----------
    image : LoadedImage
        The decoded image.
    heatmap : np.ndarray, optional
        ``Prediction.heatmap`` for ``image``, blended into the overlay picture.
    boxes : tuple of Box
        The localiser's boxes to outline on the overlay picture.
    """
    voi = None if image.is_colour else default_voi(image)
    labels = window_label(voi), window_label(voi, explanation=False)
    grey = display_grey(image, voi)
    return make_key_image(grey, heatmap, labels[0], boxes=boxes, window_values=labels[1])
