"""DICOM files: recognition by content, headers and one-frame decoding.

What the header says about showing the pixels (LUTs, windows, inversion, calibration) is in
:mod:`fracture_desktop.core.imaging.dicom_display`.

Decoding goes through pydicom 3's pixel decoders, which use whichever of pylibjpeg (libjpeg,
openjpeg, rle) and python-gdcm are installed. The pipeline follows PS3.3 C.11: stored values
-> Modality LUT (C.11.1) -> VOI LUT or window (C.11.2) -> Presentation LUT (C.11.6).
"""

from __future__ import annotations

import math
import os
import struct
import warnings
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileDataset
from pydicom.encaps import get_frame
from pydicom.pixels import apply_color_lut, convert_color_space, get_decoder
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000TransferSyntaxes,
    JPEGLSTransferSyntaxes,
    JPEGTransferSyntaxes,
    RLETransferSyntaxes,
)

from fracture_desktop.core.errors import (
    CorruptImageError,
    FrameOutOfRangeError,
    ImageLoadError,
    ImageTooLargeError,
    NonFiniteValueError,
    NoPixelDataError,
    UnsupportedTransferSyntaxError,
)
from fracture_desktop.core.files import open_regular
from fracture_desktop.core.imaging.codestream import declared_shape
from fracture_desktop.core.imaging.dicom_display import (
    frame_attributes,
    modality_values,
    needs_inversion,
    pixel_spacing,
    voi_luts,
    voi_windows,
)
from fracture_desktop.core.imaging.image import (
    LoadedImage,
)
from fracture_desktop.core.imaging.sniff import HEAD_LENGTH, FileKind, not_an_image, sniff

_LONG_VRS = frozenset({b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN", b"UT", b"SQ"})
_UNDEFINED = 0xFFFFFFFF
# (FFFE,E000) Item and (FFFE,E0DD) Sequence Delimitation Item read as little-endian uint32.
_ITEM = 0xE000FFFE
_SEQUENCE_DELIMITER = 0xE0DDFFFE
#: Media Storage Directory Storage: a DICOMDIR, an index of a medium, never an image.
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
# pydicom 3.0.2 predates these UIDs (PS3.6 Table A-1), so it cannot name them.
_UID_NAMES = {
    "1.2.840.10008.1.2.4.110": "JPEG XL Lossless",
    "1.2.840.10008.1.2.4.111": "JPEG XL JPEG Recompression",
    "1.2.840.10008.1.2.4.112": "JPEG XL",
    "1.2.840.10008.1.2.8.1": "Deflated Image Frame Compression",
}
# One decoded frame larger than this is a corrupt header, not a radiograph (a 43x43 cm
# detector at 0.1 mm is 18 Mpx, 36 MB at 16 bits).
MAX_FRAME_BYTES = 1 << 30
# A JPEG frame header follows its tables; 64 KiB holds any sane set of them.
_CODESTREAM_HEAD = 1 << 16


def transfer_syntax_name(uid: str) -> str:
    """Human name of a transfer syntax UID (PS3.6 Table A-1), or the UID itself."""
    return _UID_NAMES.get(uid) or UID(uid).name


def codec_name(uid: str) -> str:
    """Short name of the compression behind a transfer syntax, for messages."""
    if uid in JPEG2000TransferSyntaxes or uid.startswith("1.2.840.10008.1.2.4.20"):
        return "JPEG 2000"
    if uid in JPEGLSTransferSyntaxes:
        return "JPEG-LS"
    if uid in JPEGTransferSyntaxes:
        return "JPEG"
    if uid in RLETransferSyntaxes:
        return "RLE"
    return "pixel"


def _warning_texts(caught: Iterable[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught]


def read_dataset(path: Path, *, header_only: bool) -> FileDataset:
    """Read a DICOM file, whatever its name.

    Files with a preamble are read normally; files without one are parsed with ``force``
    only when their first bytes look like a dataset (see :func:`sniff`). PS3.10 7.1
    requires both, but ACR-NEMA era files and some exporters omit them.

    Parameters
    ----------
    path : Path
        The file.
    header_only : bool
        Stop before the pixel data (PS3.5 7.1: (7FE0,0010) is the last standard element).

    Raises
    ------
    NotAnImageError
        The content is not DICOM.
    CorruptImageError
        The file ends inside an element.
    """
    with open_regular(path) as f:
        head = f.read(HEAD_LENGTH)
        kind = sniff(head)
        if kind not in (FileKind.DICOM, FileKind.MAYBE_DICOM):
            raise not_an_image(path, head)
        f.seek(0)
        with warnings.catch_warnings(record=True) as caught:
            # Record warnings instead of printing them: the reader sees them with the image.
            warnings.simplefilter("always")
            try:
                ds = pydicom.dcmread(f, force=True, stop_before_pixels=header_only)
            except RecursionError as exc:
                raise CorruptImageError(path, "DICOM header is nested too deeply") from exc
            except Exception as exc:
                # Damaged headers raise whatever the parser meets first: InvalidDicomError,
                # EOFError, zlib.error (deflate), NotImplementedError (unknown VR),
                # BytesLengthException, struct.error... all mean the same to a reader.
                raise CorruptImageError(path, "DICOM header is damaged", repr(exc)) from exc
        texts = _warning_texts(caught)
        try:
            _check_parsed(path, f, ds, head, header_only, texts)
        except ImageLoadError:
            raise
        except Exception as exc:  # file meta elements are converted here, when first read
            raise CorruptImageError(path, "DICOM header is damaged", repr(exc)) from exc
    for text in texts:
        # Hand the other warnings on to the caller's recorder (see load_dicom).
        warnings.warn(text, UserWarning, stacklevel=2)
    return ds


def _check_parsed(
    path: Path, f: BinaryIO, ds: Dataset, head: bytes, header_only: bool, texts: list[str]
) -> None:
    """What a successful parse still has to prove: complete, really DICOM, pixels present."""
    if any("End of file reached" in t for t in texts):
        ts = transfer_syntax_of(ds)
        what = codec_name(ts) if ts else "pixel"
        raise CorruptImageError(path, f"{what} data ends early", "; ".join(texts))
    if sniff(head) is FileKind.MAYBE_DICOM and not _looks_parsed(ds):
        raise not_an_image(path, head)
    if header_only and not is_dicomdir(ds):
        # pydicom stopped with the file positioned at the pixel data element.
        _check_pixel_element(path, f, transfer_syntax_of(ds))


def _check_pixel_element(path: Path, f: BinaryIO, ts: str) -> None:
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


def _looks_parsed(ds: Dataset) -> bool:
    """A forced parse of non-DICOM bytes yields junk; a real dataset has its identifiers."""
    return any(k in ds for k in ("SOPClassUID", "Rows", "Modality", "StudyInstanceUID"))


def transfer_syntax_of(ds: Dataset) -> str:
    """The file's transfer syntax; for files without meta, the encoding pydicom detected."""
    meta = getattr(ds, "file_meta", None)
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    if ts:
        return str(ts)
    implicit, little = getattr(ds, "original_encoding", (None, None))
    if implicit is None:
        return ""
    if implicit:
        return str(ImplicitVRLittleEndian)
    return str(ExplicitVRLittleEndian if little else ExplicitVRBigEndian)


def is_dicomdir(ds: Dataset) -> bool:
    """True for a DICOMDIR (PS3.10 8.6, Media Storage SOP Class 1.2.840.10008.1.3.10)."""
    meta = getattr(ds, "file_meta", None)
    sop = meta.get("MediaStorageSOPClassUID") if meta is not None else None
    return str(sop or ds.get("SOPClassUID", "")) == DICOMDIR_SOP_CLASS


def _int_attr(path: Path, ds: Dataset, keyword: str, default: int | None = None) -> int:
    value = ds.get(keyword, default)
    if value is None:
        raise CorruptImageError(path, f"image attribute {keyword} is missing")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise CorruptImageError(path, f"invalid {keyword} {value!r}") from exc


def _frame_count(path: Path, ds: Dataset) -> int:
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


def _check_native_size(path: Path, ds: Dataset, frames: int) -> None:
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


def _check_codestream_size(path: Path, ds: Dataset, ts: str, frame: int, frames: int) -> None:
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
        codec = codec_name(ts)
        details = f"the {codec} data declares {shape[1]} x {shape[0]}, the header {cols} x {rows}"
        raise ImageTooLargeError.declared(path, *shape, details)


def _fragment_ends_early(ds: Dataset, frame: int, frames: int) -> bool:
    """True when the compressed frame lacks its end marker (FFD9: JPEG EOI, J2K EOC)."""
    try:
        data = get_frame(ds.PixelData, frame, number_of_frames=frames)
    except (ValueError, IndexError, KeyError):
        return True
    # Encoders pad the last fragment to an even length (PS3.5 A.4), so look at the tail.
    return b"\xff\xd9" not in data[-4:]


def load_dicom(path: Path | str, frame: int = 0) -> LoadedImage:
    """Decode frame ``frame`` of a DICOM file and gather what display needs.

    Parameters
    ----------
    path : Path or str
        The file, whatever its name.
    frame : int
        Zero-based frame index (PS3.3 C.7.6.6 Multi-frame Module).

    Returns
    -------
    LoadedImage
        Grey images hold float32 values after the Modality LUT; colour images hold uint8
        RGB. Warnings raised while reading (bad values, odd encodings) are in ``warnings``.

    Raises
    ------
    NotAnImageError, NoPixelDataError, UnsupportedTransferSyntaxError, CorruptImageError
        With a short human reason.
    IndexError
        ``frame`` is outside the file's frames.
    """
    path = Path(path)
    with warnings.catch_warnings(record=True) as caught:
        # pydicom warns about bad values when they are first used, so the whole load is
        # inside the recorder: the reader sees them with the image, not on a console.
        warnings.simplefilter("always")
        try:
            image = _load(path, frame)
        except ImageLoadError:
            raise
        except Exception as exc:
            # pydicom converts raw elements when first used, so a damaged element (an
            # unknown VR, a bad length) raises here rather than while reading the file.
            raise CorruptImageError(path, "DICOM data is damaged", repr(exc)) from exc
    texts = tuple(dict.fromkeys(_warning_texts(caught)))
    return replace(image, warnings=image.warnings + texts) if texts else image


def _load(path: Path, frame: int) -> LoadedImage:
    ds = read_dataset(path, header_only=False)
    if is_dicomdir(ds):
        raise NoPixelDataError(path, "DICOMDIR (an index of a medium), not an image")
    if not any(k in ds for k in PIXEL_KEYWORDS):
        raise NoPixelDataError(path, "no pixel data")
    ts = transfer_syntax_of(ds)
    if not ts:
        raise CorruptImageError(path, "transfer syntax unknown")
    # Decoders read the transfer syntax from the file meta; ACR-NEMA style files have none.
    ds.file_meta.TransferSyntaxUID = UID(ts)
    frames = _frame_count(path, ds)
    if not 0 <= frame < frames:
        raise FrameOutOfRangeError(path, f"frame {frame} outside 0..{frames - 1}")
    try:
        decoder = get_decoder(ts)
    except NotImplementedError as exc:
        reason = f"transfer syntax {transfer_syntax_name(ts)} is not supported"
        raise UnsupportedTransferSyntaxError(path, reason, str(exc)) from exc
    if not decoder.is_available:
        reason = f"no decoder installed for {transfer_syntax_name(ts)}"
        raise UnsupportedTransferSyntaxError(path, reason)
    if decoder.is_native:
        _check_native_size(path, ds, frames)
    else:
        _check_codestream_size(path, ds, ts, frame, frames)
    try:
        stored, meta = decoder.as_array(ds, index=frame)
    except MemoryError as exc:
        raise ImageTooLargeError(path, "image needs more memory than decoding may use") from exc
    except Exception as exc:  # decoders raise anything from struct.error to ZeroDivisionError
        raise _decode_error(path, ds, ts, (frame, frames), exc) from exc
    photometric = str(meta.get("photometric_interpretation", ds.get("PhotometricInterpretation")))
    notes: list[str] = []
    if int(meta.get("samples_per_pixel", 1)) == 3 or photometric == "PALETTE COLOR":
        try:
            rgb = _to_rgb8(stored, ds, photometric)
        except Exception as exc:  # damaged palettes: ValueError, IndexError, KeyError...
            raise CorruptImageError(path, "colour data or palette is damaged", repr(exc)) from exc
        return LoadedImage(
            path=path,
            frame=frame,
            stored=stored,
            values=rgb,
            spacing=pixel_spacing(ds, frame),
        )
    voi = frame_attributes(ds, frame, "WindowCenter", "FrameVOILUTSequence")
    windows, luts = voi_windows(voi), voi_luts(ds)
    if not windows and not luts:
        _check_no_voi_stated(path, voi, ds)
    rescale = frame_attributes(ds, frame, "RescaleSlope", "PixelValueTransformationSequence")
    values = modality_values(stored, rescale, notes)
    if not np.issubdtype(values.dtype, np.integer) and not np.isfinite(values).all():
        raise NonFiniteValueError(
            path,
            "pixel values are not finite (NaN or infinity)",
            "after the Modality LUT: Rescale Slope {!r}, Rescale Intercept {!r}".format(
                rescale.get("RescaleSlope"), rescale.get("RescaleIntercept")
            ),
        )
    return LoadedImage(
        path=path,
        frame=frame,
        stored=stored,
        values=values,
        windows=windows,
        voi_luts=luts,
        invert=needs_inversion(ds),
        spacing=pixel_spacing(ds, frame),
        warnings=tuple(notes),
    )


def _check_no_voi_stated(path: Path, voi: Dataset, ds: Dataset) -> None:
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


def _decode_error(
    path: Path, ds: Dataset, ts: str, position: tuple[int, int], exc: Exception
) -> CorruptImageError:
    codec = codec_name(ts)
    encapsulated = "PixelData" in ds and ds["PixelData"].is_undefined_length
    if encapsulated and _fragment_ends_early(ds, *position):
        return CorruptImageError(path, f"{codec} data ends early", repr(exc))
    if isinstance(exc, AttributeError):
        return CorruptImageError(path, "image attributes missing", str(exc))
    return CorruptImageError(path, f"{codec} data is damaged", str(exc))


def _to_rgb8(stored: np.ndarray, ds: Dataset, photometric: str) -> np.ndarray:
    """Colour data as uint8 RGB (PS3.3 C.7.6.3.1.2 photometric interpretations)."""
    if photometric == "PALETTE COLOR":
        # C.7.6.3.1.5: entries are 8 or 16 bits; pydicom returns uint8 or uint16 accordingly.
        rgb = apply_color_lut(stored, ds)
        if rgb.dtype != np.uint8:
            rgb = np.round(rgb.astype(np.float32) / 257.0).astype(np.uint8)
        return rgb
    rgb = stored
    if photometric in ("YBR_FULL", "YBR_FULL_422"):
        rgb = convert_color_space(rgb, photometric, "RGB")
    if rgb.dtype == np.uint8:
        return rgb
    bits = int(ds.get("BitsStored", rgb.dtype.itemsize * 8))
    scale = 255.0 / float(2**bits - 1)
    return np.clip(np.round(rgb.astype(np.float64) * scale), 0, 255).astype(np.uint8)
