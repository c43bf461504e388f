"""Recognise a file by its first bytes, never by its name."""

from __future__ import annotations

import enum
from pathlib import Path

from fracture_desktop.core.errors import CorruptImageError, NotAnImageError
from fracture_desktop.core.files import NotARegularFileError, open_regular

#: Bytes to read for :func:`sniff`: a DICOM preamble (PS3.10 7.1) plus ``DICM``.
HEAD_LENGTH = 132
_PREAMBLE = 128
#: Names under which users expect DICOM; a file so named that is not DICOM says so.
DICOM_SUFFIXES = frozenset({".dcm", ".dicom", ".dic", ".ima", ""})
_PLAIN_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",  # JPEG SOI followed by a marker
    b"II*\x00",  # TIFF little endian
    b"MM\x00*",  # TIFF big endian
    b"BM",  # Windows bitmap
)


class FileKind(enum.Enum):
    DICOM = "dicom"  # preamble + DICM
    MAYBE_DICOM = "maybe-dicom"  # no preamble, but starts like a dataset
    PLAIN = "plain"  # PNG, JPEG, TIFF, BMP
    UNKNOWN = "unknown"


def sniff(head: bytes) -> FileKind:
    """Classify a file from its first :data:`HEAD_LENGTH` bytes.

    The DICOM test comes first: many DICOM preambles hold a TIFF header (PS3.10 7.5) so
    that one file is both.
    """
    if head[_PREAMBLE : _PREAMBLE + 4] == b"DICM":
        return FileKind.DICOM
    if head.startswith(_PLAIN_MAGIC):
        return FileKind.PLAIN
    # Datasets without preamble start with a group 0002 or 0008 tag, little or big endian.
    if head[:2] in (b"\x02\x00", b"\x08\x00", b"\x00\x02", b"\x00\x08"):
        return FileKind.MAYBE_DICOM
    return FileKind.UNKNOWN


def read_head(path: Path) -> bytes:
    """The first :data:`HEAD_LENGTH` bytes of a regular file (never blocks on a FIFO).

    Raises
    ------
    NotAnImageError
        ``path`` is a FIFO, socket, device or folder.
    CorruptImageError
        The file cannot be opened or read (permissions, a dangling link, I/O error).
    """
    try:
        with open_regular(path) as f:
            return f.read(HEAD_LENGTH)
    except NotARegularFileError as exc:
        raise NotAnImageError(path, str(exc)) from exc
    except OSError as exc:
        raise CorruptImageError(path, f"file cannot be read: {exc.strerror or exc}") from exc


def describe_content(head: bytes) -> str:
    """A few words on what an unrecognised file holds, for the problem's details."""
    if not head:
        return "the file is empty"
    if head[:2] == b"\x1f\x8b":
        return "gzip-compressed data"
    if head[:4] == b"PK\x03\x04":
        return "a ZIP archive"
    return f"starts with {head[:8]!r}"


def not_an_image(path: Path, head: bytes) -> NotAnImageError:
    """The error for a file nothing can read, worded for the name the user gave it."""
    reason = "not a DICOM file" if path.suffix.lower() in DICOM_SUFFIXES else "not an image"
    if not head:
        reason = "empty file"
    return NotAnImageError(path, reason, describe_content(head))
