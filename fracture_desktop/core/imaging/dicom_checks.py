"""Checks that refuse a DICOM file for what it is, before its pixels are decoded or shown.

A damaged or hostile header must be refused as such (a file that ends early, an implausible
size) before a decoder is handed bytes that would make it allocate gigabytes or report a
misleading error: the declared frame size, the pixel data element, the codestream's own
size. None of them decodes anything. A stated window that cannot be applied is refused too,
rather than replaced by an automatic one. Used by :mod:`fracture_desktop.core.imaging.dicom`.
"""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path
from typing import BinaryIO

from pydicom.dataset import Dataset
from pydicom.encaps import get_frame
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
)

from fracture_desktop.core.errors import (
    CorruptImageError,
    ImageTooLargeError,
    NoPixelDataError,
)
from fracture_desktop.core.imaging.codestream import declared_shape
from fracture_desktop.core.imaging.transfer_syntax import codec_name

_LONG_VRS = frozenset({b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN", b"UT", b"SQ"})
_UNDEFINED = 0xFFFFFFFF
# (FFFE,E000) Item and (FFFE,E0DD) Sequence Delimitation Item read as little-endian uint32.
_ITEM = 0xE000FFFE
_SEQUENCE_DELIMITER = 0xE0DDFFFE
PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
# One decoded frame larger than this is a corrupt header, not a radiograph (a 43x43 cm
# detector at 0.1 mm is 18 Mpx, 36 MB at 16 bits).
MAX_FRAME_BYTES = 1 << 30
# A JPEG frame header follows its tables; 64 KiB holds any sane set of them.
_CODESTREAM_HEAD = 1 << 16


def check_pixel_element(path: Path, f: BinaryIO, ts: str) -> None:
    """Check, without reading it, that the pixel data element is there and complete.

    Walks the element header (PS3.5 7.1) and, for encapsulated data, the item headers
    (PS3.5 A.4), seeking over the values: a truncated file is caught at scan time for the
    cost of a few small reads.

    Raises
    ------
    NoPixelDataError
        The dataset ends before any pixel data element.
    CorruptImageError
        The element or its fragments run past the end of the file.
    """
    if ts in (DeflatedExplicitVRLittleEndian, ""):
        return  # deflated bodies cannot be walked without inflating them
    little = ts != ExplicitVRBigEndian
    explicit = ts != ImplicitVRLittleEndian
    end = "<" if little else ">"
    start = f.tell()
    size = f.seek(0, os.SEEK_END)
    f.seek(start)
    header = f.read(8)
    if len(header) < 8:
        raise NoPixelDataError(path, "no pixel data")
    group, element = struct.unpack(end + "HH", header[:4])
    if group != 0x7FE0 or element not in (0x0008, 0x0009, 0x0010):
        raise NoPixelDataError(path, "no pixel data")
    if explicit and header[4:6] in _LONG_VRS:
        extra = f.read(4)
        length = struct.unpack(end + "L", extra)[0] if len(extra) == 4 else 0
    elif explicit:
        length = struct.unpack(end + "H", header[6:8])[0]
    else:
        length = struct.unpack(end + "L", header[4:8])[0]
    if length != _UNDEFINED:
        if f.tell() + length > size:
            raise CorruptImageError(
                path, "pixel data ends early", f"{size - f.tell()} of {length} bytes present"
            )
        return
    # Encapsulated items are always little endian (PS3.5 A.4).
    while True:
        item = f.read(8)
        if len(item) < 8:
            raise CorruptImageError(path, f"{codec_name(ts)} data ends early")
        tag, item_length = struct.unpack("<LL", item)
        if tag == _SEQUENCE_DELIMITER:
            return
        if tag != _ITEM or f.tell() + item_length > size:
            raise CorruptImageError(path, f"{codec_name(ts)} data ends early")
        f.seek(item_length, os.SEEK_CUR)


def _int_attr(path: Path, ds: Dataset, keyword: str, default: int | None = None) -> int:
    value = ds.get(keyword, default)
    if value is None:
        raise CorruptImageError(path, f"image attribute {keyword} is missing")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise CorruptImageError(path, f"invalid {keyword} {value!r}") from exc


def frame_count(path: Path, ds: Dataset) -> int:
    # Number of Frames (0028,0008) is IS; a bad value (e.g. "1A") is read as a string.
    return max(1, _int_attr(path, ds, "NumberOfFrames", 1))


def _frame_bits(path: Path, ds: Dataset) -> int:
    """Bits of one decoded frame as the header declares it, refused when implausible.

    Checked before decoding, for every transfer syntax, so that a header claiming a
    gigantic image never triggers a gigantic allocation.
    """
    rows = _int_attr(path, ds, "Rows")
    cols = _int_attr(path, ds, "Columns")
    samples = _int_attr(path, ds, "SamplesPerPixel", 1)
    bits = _int_attr(path, ds, "BitsAllocated")
    if rows <= 0 or cols <= 0:
        raise CorruptImageError(path, "image size in the header is implausible", f"{rows}x{cols}")
    frame_bits = rows * cols * max(samples, 1) * max(bits, 1)
    if frame_bits // 8 > MAX_FRAME_BYTES:
        details = f"{frame_bits // 8} bytes per frame in the header"
        raise ImageTooLargeError.declared(path, rows, cols, details)
    return frame_bits


def check_native_size(path: Path, ds: Dataset, frames: int) -> None:
    """Compare the size the header declares with the bytes present (PS3.5 8.1.1).

    Done before decoding so that a truncated file is reported as such.
    """
    frame_bits = _frame_bits(path, ds)
    if ds.get("PhotometricInterpretation") == "YBR_FULL_422":
        # PS3.3 C.7.6.3.1.2: two chroma samples are shared by each pair of pixels.
        frame_bits = frame_bits * 2 // 3
    expected = math.ceil(frame_bits * frames / 8)
    element = next(ds[k] for k in PIXEL_KEYWORDS if k in ds)
    present = len(element.value or b"")
    if present < expected:
        raise CorruptImageError(
            path, "pixel data ends early", f"{present} of {expected} declared bytes present"
        )


def check_codestream_size(path: Path, ds: Dataset, ts: str, frame: int, frames: int) -> None:
    """Refuse a compressed frame whose codestream declares more pixels than the header.

    Decoders size their output from the codestream (see
    :mod:`~fracture_desktop.core.imaging.codestream`); the header's Rows x Columns has
    already been bounded by :func:`_frame_bits`.
    """
    _frame_bits(path, ds)
    try:
        data = get_frame(ds.PixelData, frame, number_of_frames=frames)
    except Exception:  # damaged fragments: the decoder reports them with a better reason
        return
    shape = declared_shape(data[:_CODESTREAM_HEAD])
    if shape is None:
        return
    rows, cols = int(ds.Rows), int(ds.Columns)
    if shape[0] * shape[1] > rows * cols:
        # Said as a disagreement: "image too large: 45 x 10" reads wrong for a small image.
        codec = codec_name(ts)
        reason = (
            f"{codec} data is larger than its header declares "
            f"({shape[1]} x {shape[0]}, not {cols} x {rows})"
        )
        raise ImageTooLargeError(path, reason, f"frame {frame + 1} of {frames}")


def fragment_ends_early(ds: Dataset, frame: int, frames: int) -> bool:
    """True when the compressed frame lacks its end marker (FFD9: JPEG EOI, J2K EOC)."""
    try:
        data = get_frame(ds.PixelData, frame, number_of_frames=frames)
    except (ValueError, IndexError, KeyError):
        return True
    # Encoders pad the last fragment to an even length (PS3.5 A.4), so look at the tail.
    return b"\xff\xd9" not in data[-4:]


def check_no_voi_stated(path: Path, voi: Dataset, ds: Dataset) -> None:
    """Refuse a file that states how it is to be seen (PS3.3 C.11.2) in a way that cannot
    be applied: an automatic window would show, and the model would score, a picture the
    file never meant. A file that states nothing gets the automatic window.

    Raises
    ------
    CorruptImageError
        Every Window Center/Width pair, or every VOI LUT, of the file was unusable.
    """
    if voi.get("WindowCenter") is not None and voi.get("WindowWidth") is not None:
        details = "Window Center {!r}, Window Width {!r}, VOI LUT Function {!r}".format(
            voi.get("WindowCenter"), voi.get("WindowWidth"), ds.get("VOILUTFunction", "LINEAR")
        )
        raise CorruptImageError(path, "the file's window cannot be applied", details)
    if any(item.get("LUTData") for item in ds.get("VOILUTSequence") or ()):
        # Items without a table are placeholders some writers leave; a table that maps
        # every input to one value is a statement that cannot be shown.
        details = "the VOI LUT maps every input to one value"
        raise CorruptImageError(path, "the file's VOI LUT cannot be applied", details)
