"""DICOM files: recognition by content, headers and one-frame decoding.

What the header says about showing the pixels (LUTs, windows, inversion, calibration) is in
:mod:`fracture_desktop.core.imaging.dicom_display`; the checks made before decoding are in
:mod:`fracture_desktop.core.imaging.dicom_checks`.

Decoding goes through pydicom 3's pixel decoders, which use whichever of pylibjpeg (libjpeg,
openjpeg, rle) and python-gdcm are installed. The pipeline follows PS3.3 C.11: stored values
-> Modality LUT (C.11.1) -> VOI LUT or window (C.11.2) -> Presentation LUT (C.11.6).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileDataset
from pydicom.pixels import apply_color_lut, convert_color_space, get_decoder
from pydicom.uid import UID

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
from fracture_desktop.core.imaging.dicom_checks import (
    PIXEL_KEYWORDS,
    check_codestream_size,
    check_native_size,
    check_no_voi_stated,
    check_pixel_element,
    fragment_ends_early,
    frame_count,
)
from fracture_desktop.core.imaging.dicom_display import (
    modality_values,
    needs_inversion,
    pixel_spacing,
    rescale_attributes,
    voi_luts,
    voi_windows,
    window_attributes,
)
from fracture_desktop.core.imaging.image import LoadedImage
from fracture_desktop.core.imaging.records import STRUCTURED_REPORT
from fracture_desktop.core.imaging.sniff import HEAD_LENGTH, FileKind, not_an_image, sniff
from fracture_desktop.core.imaging.transfer_syntax import (
    codec_name,
    transfer_syntax_name,
    transfer_syntax_of,
)

#: Media Storage Directory Storage: a DICOMDIR, an index of a medium, never an image.
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
#: Documents a study may hold beside its images (PS3.4 B.5), by SOP Class: what each is.
#: A scan lists them as skipped, never as broken images; our own results are among them.
DOCUMENT_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.88.11": STRUCTURED_REPORT,  # Basic Text SR
    "1.2.840.10008.5.1.4.1.1.88.22": STRUCTURED_REPORT,  # Enhanced SR
    "1.2.840.10008.5.1.4.1.1.88.33": STRUCTURED_REPORT,  # Comprehensive SR
    "1.2.840.10008.5.1.4.1.1.88.34": STRUCTURED_REPORT,  # Comprehensive 3D SR
    "1.2.840.10008.5.1.4.1.1.88.59": "key object selection (KOS)",
    "1.2.840.10008.5.1.4.1.1.11.1": "presentation state (GSPS)",
    # A segmentation has pixels, but they label another image's (PS3.3 A.51): a derived
    # object to show over its source, not a radiograph to triage.
    "1.2.840.10008.5.1.4.1.1.66.4": "segmentation (SEG)",
    "1.2.840.10008.5.1.4.1.1.66.7": "segmentation (SEG)",  # Label Map Segmentation
}


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
    if header_only and not is_dicomdir(ds) and document_kind(ds) is None:
        # pydicom stopped with the file positioned at the pixel data element.
        check_pixel_element(path, f, transfer_syntax_of(ds))


def _looks_parsed(ds: Dataset) -> bool:
    """A forced parse of non-DICOM bytes yields junk; a real dataset has its identifiers."""
    return any(k in ds for k in ("SOPClassUID", "Rows", "Modality", "StudyInstanceUID"))


def is_dicomdir(ds: Dataset) -> bool:
    """True for a DICOMDIR (PS3.10 8.6, Media Storage SOP Class 1.2.840.10008.1.3.10)."""
    meta = getattr(ds, "file_meta", None)
    sop = meta.get("MediaStorageSOPClassUID") if meta is not None else None
    return str(sop or ds.get("SOPClassUID", "")) == DICOMDIR_SOP_CLASS


def document_kind(ds: Dataset) -> str | None:
    """What a non-image document is (:data:`DOCUMENT_SOP_CLASSES`); None for anything else."""
    return DOCUMENT_SOP_CLASSES.get(str(ds.get("SOPClassUID", "")))


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
    frames = frame_count(path, ds)
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
        check_native_size(path, ds, frames)
    else:
        check_codestream_size(path, ds, ts, frame, frames)
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
    voi = window_attributes(ds, frame)
    windows, luts = voi_windows(voi), voi_luts(ds)
    if not windows and not luts:
        check_no_voi_stated(path, voi, ds)
    rescale = rescale_attributes(ds, frame)
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


def _decode_error(
    path: Path, ds: Dataset, ts: str, position: tuple[int, int], exc: Exception
) -> CorruptImageError:
    codec = codec_name(ts)
    encapsulated = "PixelData" in ds and ds["PixelData"].is_undefined_length
    if encapsulated and fragment_ends_early(ds, *position):
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
