"""Write a triage's DICOM results: per study an SR, a KOS and GSPS, each file atomically.

Only analysed DICOM images are referenced: an image not analysed (its finding has no
probability) gets nothing, and JPEG / PNG inputs have no SOP instance to point at (they
keep the CSV and PDF; the summary counts them). Each study's objects go to
``OUT/<Study Instance UID>/<kind>_<SOP Instance UID>.dcm``; the UIDs are new on every
run (:mod:`.uids`), so a second run never overwrites the first.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

import fracture_desktop
from fracture_desktop.core.atomic import OutputWriteError, atomic_write
from fracture_desktop.core.dicom_out import codes as fd
from fracture_desktop.core.dicom_out.gsps import make_gsps, own_transformations
from fracture_desktop.core.dicom_out.image import AnalysedImage
from fracture_desktop.core.dicom_out.kos import make_kos
from fracture_desktop.core.dicom_out.sources import deidentified, mark_deidentified, source_header
from fracture_desktop.core.dicom_out.sr import algorithm, box_groups, image_group, make_sr
from fracture_desktop.core.dicom_out.uids import new_uid
from fracture_desktop.core.errors import ImageLoadError
from fracture_desktop.core.imaging.records import FileProblem, SourceKind
from fracture_desktop.core.jobs import CancelToken
from fracture_desktop.core.report.entries import ModelIdentity, ReportEntry

#: Series numbers of our objects: high, so that they sort after the acquired series.
SR_SERIES, KOS_SERIES, GSPS_SERIES, SC_SERIES = 9901, 9902, 9903, 9904
SERIES_DESCRIPTION = "Fracture triage (AI), not a diagnosis"
CANNOT_REFERENCE = "cannot be referenced in DICOM results"
NO_GSPS = "no presentation state (its SR and KOS references stand)"
SAME_INSTANCE = "referenced once: an earlier file has the same SOP Instance UID"


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
        Analysed DICOM images in no object (their header could not be read again, lacked
        the UIDs a reference needs, or highdicom refused it), and flagged images left
        without a GSPS or a Secondary Capture (their SR and KOS references stand).
    """

    written: tuple[Path, ...]
    studies: int
    referenced: int
    plain: int
    problems: tuple[FileProblem, ...] = ()


def restore_classes(ds: Dataset, images: Iterable[AnalysedImage]) -> None:
    """Give every reference in ``ds`` to one of ``images`` the source's own SOP Class UID
    where highdicom was shown a stand-in (:func:`~.image.stand_in`): a reference names
    the instance as it is (PS3.3 Table 10-11, SOP Instance Reference Macro)."""
    own = {
        i.sop_instance_uid: i.sop_class_uid
        for i in images
        if i.header.SOPClassUID != i.sop_class_uid
    }
    if not own:
        return

    def restore(item: Dataset, element: DataElement) -> None:
        if element.keyword == "ReferencedSOPInstanceUID" and "ReferencedSOPClassUID" in item:
            item.ReferencedSOPClassUID = own.get(str(element.value), item.ReferencedSOPClassUID)

    ds.walk(restore)


def _finish(ds: Dataset, deidentify: bool, images: Sequence[AnalysedImage]) -> Dataset:
    """What every object about ``images`` gets beyond highdicom's defaults."""
    restore_classes(ds, images)
    source = images[0].header
    charset = source.get("SpecificCharacterSet")
    if charset:
        # The copied names are in the source's repertoire (PS3.5 6.1); our own text is ASCII.
        ds.SpecificCharacterSet = charset
    ds.SeriesDescription = SERIES_DESCRIPTION
    ds.SoftwareVersions = fracture_desktop.__version__
    scheme = Dataset()
    scheme.CodingSchemeDesignator = fd.SCHEME
    scheme.CodingSchemeName = "Fracture Desktop triage codes"
    scheme.CodingSchemeResponsibleOrganization = fd.MANUFACTURER
    ds.CodingSchemeIdentificationSequence = [scheme]
    if deidentify:
        mark_deidentified(ds)
    elif ds.get("PatientIdentityRemoved") == "YES":
        # highdicom copies the source's "identity removed" without its method (Type 1C).
        ds.DeidentificationMethod = fd.long_string(
            str(source.get("DeidentificationMethod") or "before receipt")
        )
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
    the DICOM entries that cannot be referenced. A SOP instance is referenced once: a
    later file with the same SOP Instance UID (a copy, another encoding) is a problem."""
    images, plain, problems = [], 0, []
    first: dict[str, Path] = {}
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
        uid = str(header.SOPInstanceUID)
        if uid in first:
            problems.append(FileProblem(entry.path, SAME_INSTANCE, f"{uid}, as {first[uid]}"))
            continue
        first[uid] = entry.path
        images.append(AnalysedImage.of(entry, deidentified(header) if deidentify else header))
    return images, plain, problems


def by_study(images: Iterable[AnalysedImage]) -> dict[str, list[AnalysedImage]]:
    """``images`` grouped by Study Instance UID, in order of first appearance."""
    studies: dict[str, list[AnalysedImage]] = {}
    for image in images:
        studies.setdefault(image.study_uid, []).append(image)
    return studies


def unreferenceable(image: AnalysedImage, model: ModelIdentity) -> str:
    """Why highdicom cannot reference ``image`` in an SR (its groups built on their own),
    or "" when it can. A header odd enough to trip highdicom costs that image its
    reference, not the study or the batch."""
    try:
        algo = algorithm(model)
        image_group(image, 1, model, algo)
        box_groups(image, 1, algo)
    except Exception as exc:  # highdicom raises what its checks meet first
        return f"{type(exc).__name__}: {exc}"
    return ""


def presentation_state(
    image: AnalysedImage, model: ModelIdentity, series: str, number: int
) -> Dataset | str:
    """The GSPS of a flagged image, or why it has none (a colour image; a header that
    neither highdicom nor :func:`own_transformations` can present): its SR reference and
    KOS entry stay."""
    if not image.grey:
        return "colour image: a grayscale presentation state does not apply"
    try:
        gsps = make_gsps(image, model, series, new_uid(), GSPS_SERIES)
    except Exception as copying:  # highdicom raises what its checks meet first
        try:
            own = own_transformations(image.header)
            gsps = make_gsps(image, model, series, new_uid(), GSPS_SERIES, own)
        except Exception as exc:
            return f"{exc} (highdicom: {type(copying).__name__}: {copying})"
    gsps.InstanceNumber = number
    return gsps


def study_objects(
    study: Sequence[AnalysedImage], model: ModelIdentity, deidentify: bool
) -> tuple[list[tuple[str, Dataset]], list[FileProblem]]:
    """The SR, the KOS (when an image is flagged) and a GSPS per flagged grey image of a
    study, in memory, each with the file name prefix it is saved under; the flagged images
    left without a GSPS, and why."""
    sr = make_sr(study, model, new_uid(), new_uid(), SR_SERIES)
    objects: list[tuple[str, Dataset]] = [("SR", _finish(sr, deidentify, study))]
    problems = []
    flagged = [image for image in study if image.entry.is_flagged]
    if flagged:
        kos = make_kos(study, flagged, model, new_uid(), new_uid(), KOS_SERIES)
        objects.append(("KO", _finish(kos, deidentify, study)))
        series = new_uid()
        for number, image in enumerate(flagged, start=1):
            gsps = presentation_state(image, model, series, number)
            if isinstance(gsps, str):
                problems.append(FileProblem(image.entry.path, NO_GSPS, gsps))
            else:
                objects.append(("PR", _finish(gsps, deidentify, [image])))
    return objects, problems


def _folder(out_dir: Path, study: Sequence[AnalysedImage]) -> Path:
    folder = out_dir / study[0].study_uid
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputWriteError(folder, str(exc)) from exc
    return folder


def write_captures(
    study: Sequence[AnalysedImage], model: ModelIdentity, folder: Path, deidentify: bool
) -> tuple[list[Path], list[FileProblem]]:
    """A Secondary Capture per flagged image of ``study``; an image that no longer decodes
    is a problem, its SR reference stays."""
    from fracture_desktop.core.dicom_out.capture import make_capture

    written, problems = [], []
    series = new_uid()
    flagged = [image for image in study if image.entry.is_flagged]
    for number, image in enumerate(flagged, start=1):
        try:
            sc = make_capture(image, model, series, new_uid(), SC_SERIES, number)
        except ImageLoadError as exc:
            path = image.entry.path
            problems.append(FileProblem(path, f"no secondary capture: {exc.reason}", exc.details))
            continue
        except Exception as exc:  # highdicom's checks of an odd source header
            why = f"{type(exc).__name__}: {exc}"
            problems.append(FileProblem(image.entry.path, "no secondary capture", why))
            continue
        written.append(save(_finish(sc, deidentify, [image]), folder, "SC"))
    return written, problems


def write_dicom_results(
    entries: Iterable[ReportEntry],
    model: ModelIdentity,
    out_dir: Path,
    deidentify: bool = False,
    cancel: CancelToken | None = None,
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
    capture : bool
        Also a Secondary Capture with the boxes burnt in per flagged image (:mod:`.capture`).

    Raises
    ------
    OutputWriteError
        A file could not be written.
    """
    with warnings.catch_warnings():
        # highdicom and pydicom warn about odd values copied from a source (a one-component
        # name, a malformed number): the objects keep the source's values as they are.
        warnings.simplefilter("ignore", UserWarning)
        return _write(entries, model, out_dir, deidentify, cancel, capture)


def _write(
    entries: Iterable[ReportEntry],
    model: ModelIdentity,
    out_dir: Path,
    deidentify: bool,
    cancel: CancelToken | None,
    capture: bool,
) -> DicomResults:
    images, plain, problems = analysed_images(entries, deidentify)
    written: list[Path] = []
    studies = referenced = 0
    for study in by_study(images).values():
        if cancel is not None:
            cancel.raise_if_cancelled()
        usable = []
        for image in study:
            reason = unreferenceable(image, model)
            if reason:
                problems.append(FileProblem(image.entry.path, CANNOT_REFERENCE, reason))
            else:
                usable.append(image)
        if not usable:
            continue
        try:
            objects, notes = study_objects(usable, model, deidentify)
        except Exception as exc:  # the images pass alone but not together (evidence)
            reason = f"{type(exc).__name__}: {exc}"
            problems.extend(FileProblem(i.entry.path, CANNOT_REFERENCE, reason) for i in usable)
            continue
        problems.extend(notes)
        folder = _folder(out_dir, usable)
        paths = [save(ds, folder, kind) for kind, ds in objects]
        if capture:
            captures, failed = write_captures(usable, model, folder, deidentify)
            paths.extend(captures)
            problems.extend(failed)
        written.extend(paths)
        studies += 1
        referenced += len(usable)
    return DicomResults(tuple(written), studies, referenced, plain, tuple(problems))
