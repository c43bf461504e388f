"""Scan a folder tree for images: headers only, streamed, grouped for the study browser.

Nothing is ever written into the scanned folder; files are opened read-only.
"""

from __future__ import annotations

import errno
import os
import warnings
from collections.abc import Callable
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
    UnsupportedTransferSyntaxError,
)
from fracture_desktop.core.files import special_file_kind
from fracture_desktop.core.imaging.dicom import (
    STRUCTURED_REPORT,
    document_kind,
    is_dicomdir,
    read_dataset,
)
from fracture_desktop.core.imaging.guard import default_guard
from fracture_desktop.core.imaging.plain import PLAIN_FORMATS, open_picture
from fracture_desktop.core.imaging.records import (
    FileProblem,
    ImageRecord,
    Patient,
    ScanResult,
    Series,
    SourceKind,
    Study,
)
from fracture_desktop.core.imaging.sniff import FileKind, not_an_image, read_head, sniff
from fracture_desktop.core.imaging.transfer_syntax import transfer_syntax_name, transfer_syntax_of
from fracture_desktop.core.jobs import CancelToken, ProgressCallback

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
#: Why a structured report is skipped: how :func:`reports_in` finds them again.
SR_SKIPPED = f"DICOM {STRUCTURED_REPORT}, not an image"


class _Skipped(ImageLoadError):
    """A file that is deliberately not shown and not a problem (a DICOMDIR)."""


def scan_folder(
    root: Path | str,
    on_record: Callable[[ImageRecord], None] | None = None,
    on_problem: Callable[[FileProblem], None] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ScanResult:
    """Find every image under ``root`` and read its header, without decoding pixels.

    Files are recognised by content, whatever their names. Hidden files and folders (names
    starting with ".") are skipped; folder links are followed once (a link back up the
    tree is not a loop). Each record and problem is handed to the callbacks as soon as it
    is found, so a viewer can show the first image while the scan goes on.

    Parameters
    ----------
    root : Path or str
        Folder to scan (a single file is scanned as a one-file folder).
    on_record, on_problem : callable, optional
        Called in the scanning thread with each :class:`ImageRecord` / :class:`FileProblem`.
    progress : callable, optional
        ``progress(done, total)`` after each file.
    cancel : CancelToken, optional
        Checked between files; cancelling raises :class:`~fracture_desktop.core.jobs.Cancelled`.

    Returns
    -------
    ScanResult
        Images grouped patient / study / series, sorted by Instance Number, then acquisition
        time, then path; problems and skipped files in path order.
    """
    root = Path(root)
    if root.is_dir():
        files, problems = _walk(root, cancel)
        files.sort()
        base = root
    else:
        files, problems, base = [root], [], root.parent
    for problem in problems:
        if on_problem is not None:
            on_problem(problem)
    records: list[ImageRecord] = []
    skipped: list[FileProblem] = []
    # In guarded worker processes: a header can crash or exhaust its parser.
    outcomes = default_guard().call_each(read_record, files, base)
    for done, (path, outcome) in enumerate(outcomes, start=1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        if isinstance(outcome, _Skipped):
            skipped.append(FileProblem(path, outcome.reason))
        elif isinstance(outcome, ImageLoadError):
            problem = FileProblem(path, outcome.reason, outcome.details)
            problems.append(problem)
            if on_problem is not None:
                on_problem(problem)
        else:
            records.append(outcome)
            if on_record is not None:
                on_record(outcome)
        if progress is not None:
            progress(done, len(files))
    problems.sort(key=lambda p: p.path)
    return ScanResult(
        root=root, patients=group(records), problems=tuple(problems), skipped=tuple(skipped)
    )


def reports_in(result: ScanResult) -> list[Path]:
    """The structured reports a scan found (skipped as documents), in path order."""
    return [p.path for p in result.skipped if p.reason == SR_SKIPPED]


def _walk(root: Path, cancel: CancelToken | None) -> tuple[list[Path], list[FileProblem]]:
    """Every non-hidden regular file below ``root``, and every other entry as a problem.

    Each real folder is entered once. FIFOs, sockets, devices, broken or looping links and
    folders that cannot be listed are problems with a reason, so that every entry a reader
    sees in the folder is accounted for in the report; none of them is ever opened.
    """
    files: list[Path] = []
    problems: list[FileProblem] = []
    seen: set[str] = set()
    stack = [root]
    while stack:
        if cancel is not None:
            cancel.raise_if_cancelled()
        folder = stack.pop()
        real = os.path.realpath(folder)
        if real in seen:
            continue
        seen.add(real)
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    path = Path(entry.path)
                    try:
                        if entry.is_dir():
                            stack.append(path)
                        elif entry.is_file():
                            files.append(path)
                        else:
                            problems.append(FileProblem(path, not_a_file_reason(path)))
                    except OSError:
                        problems.append(FileProblem(path, not_a_file_reason(path)))
        except OSError as exc:
            reason = f"folder cannot be read: {exc.strerror or exc}"
            problems.append(FileProblem(folder, reason, str(exc)))
    return files, problems


def not_a_file_reason(path: Path) -> str:
    """Why a folder entry that is neither a folder nor a regular file is not read."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "link loops back on itself"
        if exc.errno == errno.ENOENT and os.path.islink(path):
            return "broken link: its target does not exist"
        return f"cannot be read: {exc.strerror or exc}"
    return f"{special_file_kind(mode)}, not a file"


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
        raise _Skipped(path, "DICOMDIR (an index of the medium), not an image")
    kind = document_kind(ds)
    if kind is not None:
        raise _Skipped(path, f"DICOM {kind}, not an image")
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


def _image_order(record: ImageRecord) -> tuple[bool, int, str, str]:
    number = record.instance_number
    return (number is None, number or 0, record.acquisition_time, str(record.path))


def group(records: list[ImageRecord]) -> tuple[Patient, ...]:
    """Arrange records as patient / study / series, each level in a stable reading order."""
    tree: dict[tuple[str, str], dict[str, dict[str, list[ImageRecord]]]] = {}
    for r in records:
        studies = tree.setdefault((r.patient_id, r.patient_name), {})
        studies.setdefault(r.study_uid, {}).setdefault(r.series_uid, []).append(r)
    patients = []
    for (pid, name), studies in sorted(tree.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        built_studies = []
        for study_uid, series_map in studies.items():
            built_series = []
            for series_uid, images in series_map.items():
                images.sort(key=_image_order)
                first = images[0]
                built_series.append(
                    Series(series_uid, first.series_description, first.series_number, tuple(images))
                )
            built_series.sort(key=lambda s: (s.number is None, s.number or 0, s.description))
            first = built_series[0].images[0]
            built_studies.append(
                Study(study_uid, first.study_description, first.study_date, tuple(built_series))
            )
        built_studies.sort(key=lambda s: (s.date, s.description, s.uid))
        patients.append(Patient(name, pid, tuple(built_studies)))
    return tuple(patients)
