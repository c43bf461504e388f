"""Load one frame of any supported file, whatever its extension."""

from __future__ import annotations

from pathlib import Path

from fracture_desktop.core.imaging.dicom import load_dicom
from fracture_desktop.core.imaging.image import LoadedImage
from fracture_desktop.core.imaging.plain import load_plain
from fracture_desktop.core.imaging.sniff import HEAD_LENGTH, FileKind, not_an_image, sniff


def load_image(path: Path | str, frame: int = 0) -> LoadedImage:
    """Load frame ``frame`` of the image at ``path``, choosing the reader by content.

    Raises
    ------
    ImageLoadError
        A subclass with a human reason: :class:`NotAnImageError` (also for empty files),
        :class:`NoPixelDataError`, :class:`UnsupportedTransferSyntaxError`,
        :class:`CorruptImageError`.
    IndexError
        ``frame`` is outside the file's frames.
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(HEAD_LENGTH)
    kind = sniff(head)
    if kind is FileKind.PLAIN:
        return load_plain(path)
    if kind is FileKind.UNKNOWN:
        raise not_an_image(path, head)
    return load_dicom(path, frame)
