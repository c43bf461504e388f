"""Plain pictures (PNG, JPEG, TIFF, BMP) read with Pillow."""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from fracture_desktop.core.errors import CorruptImageError, ImageTooLargeError, NotAnImageError
from fracture_desktop.core.imaging.image import LoadedImage, VoiWindow

PLAIN_FORMATS = frozenset({"PNG", "JPEG", "TIFF", "BMP", "MPO"})
#: Pictures with more pixels are refused before decoding: Pillow's own decompression-bomb
#: limit (about 89 Mpx, 4.5 times a 43 x 43 cm detector at 0.1 mm), which it only warns about.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
_JPEG_EOI = b"\xff\xd9"
# Pillow's tolerance of truncated data is a module-wide switch; flip it under a lock only.
_truncated_lock = threading.Lock()


def jpeg_ends_early(path: Path) -> bool:
    """True when a JPEG file lacks its End Of Image marker (the data was cut short)."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 64))
        tail = f.read()
    return _JPEG_EOI not in tail


@contextlib.contextmanager
def open_picture(path: Path) -> Iterator[Image.Image]:
    """``Image.open`` (header only) with the declared size refused above :data:`MAX_PIXELS`.

    Raises
    ------
    ImageTooLargeError
        The header declares more than :data:`MAX_PIXELS` pixels.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    except Image.DecompressionBombError as exc:  # over twice Pillow's limit
        reason = f"image too large: over {2 * MAX_PIXELS // 10**6} Mpx declared"
        raise ImageTooLargeError(path, reason, str(exc)) from exc
    with im:
        cols, rows = im.size
        if rows * cols > MAX_PIXELS:
            raise ImageTooLargeError.declared(path, rows, cols)
        yield im


def _decode(path: Path, tolerate_truncation: bool) -> Image.Image:
    if not tolerate_truncation:
        with Image.open(path) as im:
            im.load()
            return im.copy()
    with _truncated_lock:
        previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        try:
            with Image.open(path) as im:
                im.load()
                return im.copy()
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _to_array(im: Image.Image) -> np.ndarray:
    """Grey pictures become 2-D arrays; RGB pictures whose channels agree become grey too."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        return np.asarray(im, dtype=np.int32)
    if im.mode in ("L", "1"):
        return np.asarray(im.convert("L"))
    rgb = np.asarray(im.convert("RGB"))
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]):
        return np.ascontiguousarray(rgb[..., 0])
    return rgb


def load_plain(path: Path) -> LoadedImage:
    """Load a PNG/JPEG/TIFF/BMP file as a :class:`LoadedImage`.

    Truncated JPEGs are opened with the missing rows left grey and a warning, rather than
    refused: a reader still sees the anatomy that is there and is told what is missing.

    Raises
    ------
    NotAnImageError
        Pillow does not recognise the file.
    CorruptImageError
        The data is damaged beyond what Pillow can decode.
    """
    path = Path(path)
    warnings: list[str] = []
    try:
        with open_picture(path) as probe:
            fmt = probe.format
        if fmt not in PLAIN_FORMATS:
            raise NotAnImageError(path, f"{fmt} pictures are not supported")
        truncated = fmt == "JPEG" and jpeg_ends_early(path)
        if truncated:
            warnings.append("JPEG data ends early: the last rows may be missing")
        im = _decode(path, tolerate_truncation=truncated)
    except UnidentifiedImageError as exc:
        raise NotAnImageError(path, "not an image file", str(exc)) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise CorruptImageError(path, "image data is damaged", repr(exc)) from exc
    stored = _to_array(im)
    windows: tuple[VoiWindow, ...] = ()
    if stored.ndim == 2 and stored.dtype == np.uint8:
        windows = (VoiWindow(center=127.5, width=256.0, explanation="full range"),)
    return LoadedImage(
        path=path,
        frame=0,
        stored=stored,
        values=stored,  # no Modality LUT: the values are the stored ones
        windows=windows,
        warnings=tuple(warnings),
    )
