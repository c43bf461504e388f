"""Write a triage's DICOM results: per study an SR, a KOS and GSPS, each file atomically.

Only analysed DICOM images are referenced: an image not analysed (its finding has no
probability) gets nothing, and JPEG / PNG inputs have no SOP instance to point at (they
keep the CSV and PDF; the summary counts them). Each study's objects go to
``OUT/<Study Instance UID>/<kind>_<SOP Instance UID>.dcm``; the UIDs are new on every
run (:mod:`.uids`), so a second run never overwrites the first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset

import fracture_desktop
from fracture_desktop.core.atomic import OutputWriteError, atomic_write
from fracture_desktop.core.dicom_out import codes as fd
from fracture_desktop.core.dicom_out.gsps import make_gsps
from fracture_desktop.core.dicom_out.image import AnalysedImage
from fracture_desktop.core.dicom_out.kos import make_kos
from fracture_desktop.core.dicom_out.sources import deidentified, mark_deidentified, source_header
from fracture_desktop.core.dicom_out.sr import make_sr
from fracture_desktop.core.dicom_out.uids import new_uid
from fracture_desktop.core.errors import ImageLoadError
from fracture_desktop.core.imaging.records import FileProblem, SourceKind
from fracture_desktop.core.jobs import CancelToken
from fracture_desktop.core.report.entries import ModelIdentity, ReportEntry

#: Series numbers of our objects: high, so that they sort after the acquired series.
SR_SERIES, KOS_SERIES, GSPS_SERIES, SC_SERIES = 9901, 9902, 9903, 9904
SERIES_DESCRIPTION = "Fracture triage (AI), not a diagnosis"


@dataclass(frozen=True)
class DicomResults:
    """What :func:`write_dicom_results` did.

    Attributes
    ----------
    written : tuple of Path
        The files written, SR first within each study.
    studies : int
        Studies that got an SR.
    referenced : int
        Analysed DICOM images referenced in an SR.
    plain : int
        Analysed JPEG / PNG / TIFF / BMP images: no SOP instance, CSV / PDF only.
    problems : tuple of FileProblem
        Analysed DICOM images whose header could not be read again, or lacked the UIDs a
        reference needs; they are in no object.
    """

    written: tuple[Path, ...]
    studies: int
    referenced: int
    plain: int
    problems: tuple[FileProblem, ...] = ()


def _finish(ds: Dataset, deidentify: bool) -> Dataset:
    """What every object gets beyond highdicom's defaults."""
    ds.SeriesDescription = SERIES_DESCRIPTION
    ds.SoftwareVersions = fracture_desktop.__version__
    scheme = Dataset()
    scheme.CodingSchemeDesignator = fd.SCHEME
    scheme.CodingSchemeName = "Fracture Desktop triage codes"
    scheme.CodingSchemeResponsibleOrganization = fd.MANUFACTURER
    ds.CodingSchemeIdentificationSequence = [scheme]
    if deidentify:
        mark_deidentified(ds)
    return ds


def save(ds: Dataset, folder: Path, kind: str) -> Path:
    """Write ``ds`` as ``folder/<kind>_<SOP Instance UID>.dcm`` (PS3.10), atomically."""
    path = folder / f"{kind}_{ds.SOPInstanceUID}.dcm"
    with atomic_write(path) as f:
        ds.save_as(f, enforce_file_format=True)
    return path


def analysed_images(
    entries: Iterable[ReportEntry], deidentify: bool
) -> tuple[list[AnalysedImage], int, list[FileProblem]]:
    """The analysed DICOM entries with their headers; the count of analysed plain pictures;
    the DICOM entries that cannot be referenced."""
    images, plain, problems = [], 0, []
    for entry in entries:
        if entry.finding.probability is None or entry.record is None:
            continue  # not analysed: nothing is written for it
        if entry.record.kind is not SourceKind.DICOM:
            plain += 1
            continue
        try:
            header = source_header(entry.path)
        except ImageLoadError as exc:
            problems.append(FileProblem(entry.path, exc.reason, exc.details))
            continue
        images.append(AnalysedImage(entry, deidentified(header) if deidentify else header))
    return images, plain, problems


def by_study(images: Iterable[AnalysedImage]) -> dict[str, list[AnalysedImage]]:
    """``images`` grouped by Study Instance UID, in order of first appearance."""
    studies: dict[str, list[AnalysedImage]] = {}
    for image in images:
        studies.setdefault(image.study_uid, []).append(image)
    return studies


def write_study(
    study: Sequence[AnalysedImage],
    model: ModelIdentity,
    out_dir: Path,
    deidentify: bool,
    capture: bool = False,
) -> list[Path]:
    """The SR, the KOS (when an image is flagged) and a GSPS per flagged image of a study;
    with ``capture``, a Secondary Capture per flagged image too."""
    folder = out_dir / study[0].study_uid
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputWriteError(folder, str(exc)) from exc
    sr = make_sr(study, model, new_uid(), new_uid(), SR_SERIES)
    written = [save(_finish(sr, deidentify), folder, "SR")]
    flagged = [image for image in study if image.entry.is_flagged]
    if flagged:
        kos = make_kos(study, flagged, model, new_uid(), new_uid(), KOS_SERIES)
        written.append(save(_finish(kos, deidentify), folder, "KO"))
        series = new_uid()
        for number, image in enumerate(flagged, start=1):
            gsps = make_gsps(image, model, series, new_uid(), GSPS_SERIES)
            gsps.InstanceNumber = number
            written.append(save(_finish(gsps, deidentify), folder, "PR"))
    if capture:
        from fracture_desktop.core.dicom_out.capture import make_capture

        series = new_uid()
        for number, image in enumerate(flagged, start=1):
            sc = make_capture(image, model, series, new_uid(), SC_SERIES, number)
            written.append(save(_finish(sc, deidentify), folder, "SC"))
    return written


def write_dicom_results(
    entries: Iterable[ReportEntry],
    model: ModelIdentity,
    out_dir: Path,
    deidentify: bool = False,
    cancel: CancelToken | None = None,
    on_study: Callable[[str, list[Path]], None] | None = None,
    capture: bool = False,
) -> DicomResults:
    """Write the DICOM results of a triage's ``entries`` under ``out_dir``.

    Parameters
    ----------
    entries : iterable of ReportEntry
        The triage's entries (``TriageResult.entries``).
    model : ModelIdentity
        The model whose findings they are (``TriageResult.context.model``).
    out_dir : Path
        An existing folder; one sub-folder per study is made in it.
    deidentify : bool
        Blank the patient's identifiers in the copied modules (:mod:`.sources`).
    cancel : CancelToken, optional
        Checked between studies: the studies done keep their complete files.
    on_study : callable, optional
        ``on_study(study_uid, paths)`` after each study's files are written.
    capture : bool
        Also a Secondary Capture with the boxes burnt in per flagged image (:mod:`.capture`).

    Raises
    ------
    OutputWriteError
        A file could not be written.
    """
    images, plain, problems = analysed_images(entries, deidentify)
    written: list[Path] = []
    studies = by_study(images)
    for uid, study in studies.items():
        if cancel is not None:
            cancel.raise_if_cancelled()
        paths = write_study(study, model, out_dir, deidentify, capture)
        written.extend(paths)
        if on_study is not None:
            on_study(uid, paths)
    return DicomResults(tuple(written), len(studies), len(images), plain, tuple(problems))
