"""Load one frame of any supported file, whatever its extension."""

from __future__ import annotations

from pathlib import Path

from fracture_desktop.core.imaging.dicom import load_dicom
from fracture_desktop.core.imaging.image import LoadedImage
from fracture_desktop.core.imaging.plain import load_plain
from fracture_desktop.core.imaging.sniff import FileKind, not_an_image, read_head, sniff


def load_image(path: Path | str, frame: int = 0) -> LoadedImage:
    """Load frame ``frame`` of the image at ``path``, choosing the reader by content.

    Raises
    ------
    ImageLoadError
        A subclass with a human reason: :class:`NotAnImageError` (also for empty files),
        :class:`NoPixelDataError`, :class:`UnsupportedTransferSyntaxError`,
        :class:`CorruptImageError`.
    FrameOutOfRangeError
        ``frame`` is outside the file's frames (an ``IndexError`` too).

    Notes
    -----
    This decodes in the calling process: the viewer, the scan and the analysis call
    :func:`~fracture_desktop.core.imaging.guard.guarded_image` instead, which runs it in a
    guarded worker process.
    """
    path = Path(path)
    head = read_head(path)
    kind = sniff(head)
    if kind is FileKind.PLAIN:
        return load_plain(path)
    if kind is FileKind.UNKNOWN:
        raise not_an_image(path, head)
    return load_dicom(path, frame)
