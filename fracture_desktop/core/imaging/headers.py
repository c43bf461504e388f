"""What a scan reads from one file: its header facts as an :class:`ImageRecord`.

This runs in the guarded decoder workers (:func:`fracture_desktop.core.imaging.scan.scan_folder`
sends each file there), and only there: the process that scans never imports it, nor
pydicom and the decoders it brings.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import UnidentifiedImageError
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder
from pydicom.tag import BaseTag, Tag

from fracture_desktop.core.errors import (
    CorruptImageError,
    ImageLoadError,
    SkippedFile,
    UnsupportedTransferSyntaxError,
)
from fracture_desktop.core.imaging.dicom import document_kind, is_dicomdir, read_dataset
from fracture_desktop.core.imaging.plain import PLAIN_FORMATS, open_picture
from fracture_desktop.core.imaging.records import ImageRecord, SourceKind
from fracture_desktop.core.imaging.sniff import FileKind, not_an_image, read_head, sniff
from fracture_desktop.core.imaging.transfer_syntax import transfer_syntax_name, transfer_syntax_of

#: The elements a scan reads, by keyword: (tag, VR) from the PS3.6 data dictionary.
HEADER_TAGS: dict[str, tuple[BaseTag, str]] = {
    keyword: (Tag(keyword), dictionary_VR(keyword))
    for keyword in (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "StudyInstanceUID",
        "StudyDescription",
        "StudyDate",
        "SeriesInstanceUID",
        "SeriesDescription",
        "SeriesNumber",
        "SOPInstanceUID",
        "InstanceNumber",
        "AcquisitionTime",
        "ContentTime",
        "Modality",
        "BodyPartExamined",
        "ViewPosition",
        "ImageLaterality",
        "Laterality",
        "Rows",
        "Columns",
        "NumberOfFrames",
        "PhotometricInterpretation",
    )
}
#: VRs whose values use the default character repertoire only (PS3.5 6.1.2.1 and 6.2), so
#: they are decoded straight from the bytes: pydicom's general conversion (character sets,
#: validation) costs about 10 us per element, a third of a scan's time.
_DEFAULT_REPERTOIRE_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI"})
PLAIN_STUDY_PREFIX = "folder:"


def read_record(path: Path, base: Path) -> ImageRecord:
    """Header facts for one file (no pixel decoding).

    Raises
    ------
    ImageLoadError
        Not an image, no pixel data, unsupported transfer syntax, damaged header.
    """
    head = read_head(path)
    kind = sniff(head)
    if kind is FileKind.PLAIN:
        return _plain_record(path, base)
    if kind is FileKind.UNKNOWN:
        raise not_an_image(path, head)
    with warnings.catch_warnings():
        # Header oddities are reported when the image is loaded; a scan stays quiet.
        warnings.simplefilter("ignore")
        try:
            return _dicom_record(path, base, read_dataset(path, header_only=True))
        except ImageLoadError:
            raise
        except Exception as exc:  # a damaged element raises when first used (see load_dicom)
            raise CorruptImageError(path, "DICOM header is damaged", repr(exc)) from exc


def _folder_key(path: Path, base: Path) -> str:
    try:
        rel = path.parent.relative_to(base).as_posix()
    except ValueError:
        rel = path.parent.as_posix()
    return PLAIN_STUDY_PREFIX + rel


def _plain_record(path: Path, base: Path) -> ImageRecord:
    try:
        with open_picture(path) as im:
            fmt, (cols, rows), mode = im.format, im.size, im.mode
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise CorruptImageError(path, "image header is damaged", str(exc)) from exc
    if fmt not in PLAIN_FORMATS:
        raise not_an_image(path, b"")
    key = _folder_key(path, base)
    folder_name = path.parent.name or str(path.parent)
    return ImageRecord(
        path=path,
        kind=SourceKind.PLAIN,
        rows=rows,
        columns=cols,
        study_uid=key,
        study_description=folder_name,
        series_uid=key,
        series_description=str(fmt),
        transfer_syntax=str(fmt),
        photometric=mode,
    )


def _text(ds: Dataset, keyword: str) -> str:
    """A top-level text element of a header, "" when absent or empty."""
    tag, vr = HEADER_TAGS[keyword]
    element = ds.get_item(tag)
    if element is None or element.value is None:
        return ""
    if isinstance(element, RawDataElement) and vr in _DEFAULT_REPERTOIRE_VRS:
        return element.value.decode("ascii", "replace").strip(" \0")
    return str(ds[tag].value).strip()


def _number(ds: Dataset, keyword: str) -> int | None:
    """A top-level US or IS element of a header, None when absent, empty or not a number."""
    tag, vr = HEADER_TAGS[keyword]
    element = ds.get_item(tag)
    if element is None or not element.value:
        return None
    value = element.value
    if isinstance(element, RawDataElement):
        if vr == "US":
            order = "little" if element.is_little_endian else "big"
            return int.from_bytes(value[:2], order) if len(value) >= 2 else None
        value = value.decode("ascii", "replace").strip(" \0")
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _dicom_record(path: Path, base: Path, ds: Dataset) -> ImageRecord:
    if is_dicomdir(ds):
        raise SkippedFile(path, "DICOMDIR (an index of the medium), not an image")
    kind = document_kind(ds)
    if kind is not None:
        raise SkippedFile(path, f"DICOM {kind}, not an image")
    if "Rows" not in ds or "Columns" not in ds:
        raise CorruptImageError(path, "image attributes missing", "no Rows or Columns")
    ts = transfer_syntax_of(ds)
    if ts and not _decodable(ts):
        raise UnsupportedTransferSyntaxError(
            path, f"transfer syntax {transfer_syntax_name(ts)} is not supported"
        )
    study = _text(ds, "StudyInstanceUID") or _folder_key(path, base)
    return ImageRecord(
        path=path,
        kind=SourceKind.DICOM,
        rows=_number(ds, "Rows") or 0,
        columns=_number(ds, "Columns") or 0,
        frames=max(1, _number(ds, "NumberOfFrames") or 1),
        patient_name=_text(ds, "PatientName"),
        patient_id=_text(ds, "PatientID"),
        patient_birth_date=_text(ds, "PatientBirthDate"),
        study_uid=study,
        study_description=_text(ds, "StudyDescription"),
        study_date=_text(ds, "StudyDate"),
        series_uid=_text(ds, "SeriesInstanceUID") or study,
        series_description=_text(ds, "SeriesDescription"),
        series_number=_number(ds, "SeriesNumber"),
        sop_instance_uid=_text(ds, "SOPInstanceUID"),
        instance_number=_number(ds, "InstanceNumber"),
        acquisition_time=_text(ds, "AcquisitionTime") or _text(ds, "ContentTime"),
        modality=_text(ds, "Modality"),
        body_part=_text(ds, "BodyPartExamined"),
        view_position=_text(ds, "ViewPosition"),
        laterality=_text(ds, "ImageLaterality") or _text(ds, "Laterality"),
        transfer_syntax=ts,
        photometric=_text(ds, "PhotometricInterpretation"),
    )


_decoder_cache: dict[str, bool] = {}


def _decodable(ts: str) -> bool:
    """Whether an installed decoder handles ``ts`` (cached: a scan meets few syntaxes)."""
    if ts not in _decoder_cache:
        try:
            _decoder_cache[ts] = get_decoder(ts).is_available
        except NotImplementedError:
            _decoder_cache[ts] = False
    return _decoder_cache[ts]
