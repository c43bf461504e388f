"""The one function that turns a loaded image into what the CNN sees.

Training caches the output of :func:`model_input` and the app calls it before inference,
so the network sees the same array in both places.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from fracture_desktop.core.errors import NonFiniteValueError
from fracture_desktop.core.imaging.image import LoadedImage, display_grey

#: Raise when the output of :func:`model_input` changes (loading, windowing, resizing), so
#: that training caches made by an older version are rebuilt rather than reused.
#: 2: windowing in float32 (outputs moved by at most 6e-8).
PREPROCESSING_VERSION = 2


@dataclass(frozen=True)
class InputSpec:
    """How a model wants its input: recorded in the model card's ``input`` section.

    Attributes
    ----------
    size : int
        Output is ``size`` x ``size``.
    letterbox : bool
        Keep the aspect ratio and pad with black; otherwise stretch to a square.
    channels : int
        1 for grey networks; 3 repeats the grey image (ImageNet-shaped networks).
    """

    size: int
    letterbox: bool = True
    channels: int = 1


def fit_box(shape: tuple[int, int], size: int, letterbox: bool) -> tuple[int, int, int, int]:
    """Placement of an image of ``shape`` (rows, cols) inside the ``size`` square.

    Returns ``(top, left, rows, cols)`` of the resized image inside the square; the heatmap
    code uses it to map model coordinates back to image pixels.
    """
    rows, cols = shape
    if not letterbox:
        return 0, 0, size, size
    scale = size / max(rows, cols)
    new_rows = max(1, round(rows * scale))
    new_cols = max(1, round(cols * scale))
    return (size - new_rows) // 2, (size - new_cols) // 2, new_rows, new_cols


def model_input(image: LoadedImage, spec: InputSpec) -> np.ndarray:
    """Make the network input for ``image``: float32, shape (channels, size, size), in [0, 1].

    The image is shown as a reader first sees it (default window, bone bright, colour as
    luminance), then resized with an antialiasing bilinear filter into the square.

    Raises
    ------
    NonFiniteValueError
        A NaN or infinity reached the input: clipping would hide it as black or white.
    """
    return input_from_grey(display_grey(image), spec, image.path)


def input_from_grey(grey: np.ndarray, spec: InputSpec, path: Path) -> np.ndarray:
    """:func:`model_input` from ``display_grey(image)`` of the image at ``path``, for
    callers that show it too."""
    top, left, rows, cols = fit_box(grey.shape, spec.size, spec.letterbox)
    resized = Image.fromarray(grey).resize((cols, rows), Image.Resampling.BILINEAR)
    square = np.zeros((spec.size, spec.size), dtype=np.float32)
    square[top : top + rows, left : left + cols] = np.asarray(resized, dtype=np.float32)
    if not np.isfinite(square).all():  # checked at model size: cheap, and before the clip
        raise NonFiniteValueError(path, "model input is not finite (NaN or infinity)")
    np.clip(square, 0.0, 1.0, out=square)
    return np.repeat(square[None], spec.channels, axis=0)
