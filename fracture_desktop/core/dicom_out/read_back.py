"""Read DICOM results back: our SR's findings and boxes, without running the model.

A folder may hold the SR we wrote (``scan --dicom-out``, ``listen``) beside its images:
:func:`read_report` turns it back into findings keyed by SOP Instance UID, with the model
that made them. Any other SR (another vendor's, a radiologist's) is returned as a
:class:`ForeignReport`, listed by its title and maker and never read as our findings: only
an SR whose Manufacturer is ours and whose measurement groups carry our triage result code
(:mod:`.codes`) is read. Files are parsed in the decoder guard's worker process.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from fracture_desktop.core.boxes import Box
from fracture_desktop.core.dicom_out import codes as fd
from fracture_desktop.core.dicom_out.sr import (
    INTENDED_USE_PARAMETER,
    SHA256_PARAMETER,
    THRESHOLDS_PARAMETER,
)
from fracture_desktop.core.errors import ImageLoadError
from fracture_desktop.core.findings import Finding, Flag, Thresholds
from fracture_desktop.core.imaging.dicom import document_kind, read_dataset
from fracture_desktop.core.imaging.guard import default_guard
from fracture_desktop.core.imaging.records import STRUCTURED_REPORT, FileProblem, ImageRecord


@dataclass(frozen=True)
class ReportedModel:
    """The model an SR says made its findings (its TID 4019 algorithm identification)."""

    id: str
    version: str
    sha256: str = ""
    thresholds_source: str = ""
    intended_use: str = ""

    @property
    def label(self) -> str:
        """``id version (sha256 prefix)``, as reports print a model."""
        return f"{self.id} {self.version} ({self.sha256[:12]})"


@dataclass(frozen=True)
class ReportedImage:
    """One image's finding as an SR states it."""

    sop_instance_uid: str
    flag: Flag
    probability: float
    thresholds: Thresholds | None = None
    boxes: tuple[Box, ...] = ()


@dataclass(frozen=True)
class OurReport:
    """Our SR, read back: the study, the model and a finding per referenced image."""

    path: Path
    study_uid: str
    model: ReportedModel
    images: dict[str, ReportedImage]


@dataclass(frozen=True)
class ForeignReport:
    """An SR we did not write (or cannot read as ours): listed, never read as findings."""

    path: Path
    title: str
    manufacturer: str
    why: str


def is_sr(ds: Dataset) -> bool:
    """True when ``ds`` is a structured report (by its SOP Class, PS3.4 B.5)."""
    return document_kind(ds) == STRUCTURED_REPORT


def _title(ds: Dataset) -> str:
    names = ds.get("ConceptNameCodeSequence") or []
    return str(names[0].get("CodeMeaning", "")) if names else ""


def _text_items(group: hd.sr.ContentSequence, name: object) -> list[str]:
    """The values of the TEXT items named ``name`` anywhere in ``group``."""
    found = []
    for item in group:
        if item.name == name and item.value_type == hd.sr.ValueTypeValues.TEXT:
            found.append(str(item.value))
        if "ContentSequence" in item:
            found.extend(_text_items(item.ContentSequence, name))
    return found


def _model(group: hd.sr.ContentSequence) -> ReportedModel:
    def first(name: object) -> str:
        values = _text_items(group, name)
        return values[0] if values else ""

    parameters = _text_items(group, codes.DCM.AlgorithmParameters)

    def parameter(prefix: str) -> str:
        return next((p[len(prefix) :] for p in parameters if p.startswith(prefix)), "")

    return ReportedModel(
        id=first(codes.DCM.AlgorithmName),
        version=first(codes.DCM.AlgorithmVersion),
        sha256=parameter(SHA256_PARAMETER),
        thresholds_source=parameter(THRESHOLDS_PARAMETER),
        intended_use=parameter(INTENDED_USE_PARAMETER),
    )


def _measurement(
    group: hd.sr.MeasurementsAndQualitativeEvaluations
    | hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations,
    name: hd.sr.CodedConcept,
) -> float | None:
    values = group.get_measurements(name=name)
    return float(values[0].value) if values else None


def region_source(region: hd.sr.ImageRegion) -> str:
    """The SOP Instance UID an SCOORD region is drawn on: its SELECTED FROM IMAGE child
    (PS3.3 C.18.6.1)."""
    for child in region.get("ContentSequence", []):
        if "ReferencedSOPSequence" in child:
            return str(child.ReferencedSOPSequence[0].ReferencedSOPInstanceUID)
    return ""


def _box(group: hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations) -> tuple[str, Box] | None:
    region = group.roi
    if not isinstance(region, hd.sr.ImageRegion) or not region_source(region):
        return None
    points = np.asarray(region.value, dtype=float).reshape(-1, 2)
    score = _measurement(group, fd.BOX_SCORE)
    box = Box(
        float(points[:, 0].min()),
        float(points[:, 1].min()),
        float(points[:, 0].max()),
        float(points[:, 1].max()),
        score if score is not None else float("nan"),
    )
    return region_source(region), box


def _ours(path: Path, sr: Dataset, report: hd.sr.MeasurementReport) -> OurReport | ForeignReport:
    images: dict[str, ReportedImage] = {}
    model = None
    for group in report.get_image_measurement_groups():
        results = group.get_qualitative_evaluations(name=fd.TRIAGE_RESULT)
        value = results[0].value if results else None
        flag = fd.flag_of(value) if isinstance(value, hd.sr.CodedConcept) else None
        probability = _measurement(group, fd.PROBABILITY)
        if flag is None or probability is None or not group.source_images:
            continue
        fracture = _measurement(group, fd.FRACTURE_THRESHOLD)
        doubt = _measurement(group, fd.DOUBT_THRESHOLD)
        thresholds = None if fracture is None or doubt is None else Thresholds(fracture, doubt)
        uid = str(group.source_images[0].referenced_sop_instance_uid)
        images[uid] = ReportedImage(uid, flag, probability, thresholds)
        model = model or _model(group)
    if model is None:
        return ForeignReport(path, _title(sr), str(sr.get("Manufacturer", "")), "no triage result")
    for roi in report.get_planar_roi_measurement_groups():
        found = _box(roi)
        if found is not None and found[0] in images:
            uid, box = found
            image = images[uid]
            images[uid] = ReportedImage(
                uid, image.flag, image.probability, image.thresholds, (*image.boxes, box)
            )
    return OurReport(path, str(sr.StudyInstanceUID), model, images)


def _read(path: Path) -> OurReport | ForeignReport | None:
    ds = read_dataset(path, header_only=False)
    if not is_sr(ds):
        return None
    manufacturer = str(ds.get("Manufacturer", ""))
    if manufacturer != fd.MANUFACTURER:
        return ForeignReport(path, _title(ds), manufacturer, "made by another system")
    try:
        sr = hd.sr.ComprehensiveSR.from_dataset(ds)
    except Exception as exc:  # malformed trees raise anything highdicom meets first
        return ForeignReport(path, _title(ds), manufacturer, f"not a TID 1500 report: {exc}")
    if not isinstance(sr.content, hd.sr.MeasurementReport):
        return ForeignReport(path, _title(ds), manufacturer, "not a TID 1500 report")
    return _ours(path, sr, sr.content)


def read_report(path: Path | str) -> OurReport | ForeignReport | None:
    """Read the SR at ``path`` in a guarded worker process.

    Returns
    -------
    OurReport, ForeignReport or None
        Our findings; another system's SR (listed, not read); None when the file is not an
        SR at all.

    Raises
    ------
    ImageLoadError
        The file cannot be parsed.
    """
    return default_guard().call(_read, Path(path))


@dataclass(frozen=True)
class ReportedFindings:
    """What the SRs of a folder say about its images.

    Attributes
    ----------
    findings : dict of Path to Finding
        A finding per image one of our SRs references (matched by SOP Instance UID).
    made_by : dict of Path to ReportedModel
        The model each of those findings names.
    foreign : tuple of ForeignReport
        SRs we did not write: listed, not read.
    problems : tuple of FileProblem
        SRs that could not be parsed.
    """

    findings: dict[Path, Finding]
    made_by: dict[Path, ReportedModel]
    foreign: tuple[ForeignReport, ...] = ()
    problems: tuple[FileProblem, ...] = ()


def reported_findings(records: Iterable[ImageRecord], reports: Iterable[Path]) -> ReportedFindings:
    """Read ``reports`` (:func:`~fracture_desktop.core.imaging.scan.reports_in`) and give
    ``records`` the findings our SRs state for them, without running any model.

    When several of our SRs reference one image, the first in path order is used.
    """
    by_uid = {r.sop_instance_uid: r for r in records if r.sop_instance_uid}
    findings: dict[Path, Finding] = {}
    made_by: dict[Path, ReportedModel] = {}
    foreign: list[ForeignReport] = []
    problems: list[FileProblem] = []
    for path in sorted(reports):
        try:
            report = read_report(path)
        except ImageLoadError as exc:
            problems.append(FileProblem(path, exc.reason, exc.details))
            continue
        if isinstance(report, ForeignReport):
            foreign.append(report)
            continue
        if report is None:
            continue
        for uid, image in report.images.items():
            record = by_uid.get(uid)
            if record is None or record.path in findings:
                continue
            findings[record.path] = Finding(
                record.path, uid, image.flag, image.probability, boxes=image.boxes
            )
            made_by[record.path] = report.model
    return ReportedFindings(findings, made_by, tuple(foreign), tuple(problems))
