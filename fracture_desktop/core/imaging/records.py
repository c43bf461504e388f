"""What a folder scan finds: image records grouped patient / study / series, and problems."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

#: What a DICOM structured report is called where a scan skips one as a document, not an
#: image (:data:`~fracture_desktop.core.imaging.dicom.DOCUMENT_SOP_CLASSES`).
STRUCTURED_REPORT = "structured report (SR)"


class SourceKind(enum.StrEnum):
    DICOM = "dicom"
    PLAIN = "plain"


@dataclass(frozen=True)
class ImageRecord:
    """Header facts about one image file, read without decoding pixels.

    Plain pictures get ``study_uid``/``series_uid`` derived from their folder so that every
    record sits in the same tree; their ``sop_instance_uid`` is empty.
    """

    path: Path
    kind: SourceKind
    rows: int = 0
    columns: int = 0
    frames: int = 1
    patient_name: str = ""
    patient_id: str = ""
    patient_birth_date: str = ""
    study_uid: str = ""
    study_description: str = ""
    study_date: str = ""
    series_uid: str = ""
    series_description: str = ""
    series_number: int | None = None
    sop_instance_uid: str = ""
    instance_number: int | None = None
    acquisition_time: str = ""
    modality: str = ""
    body_part: str = ""
    view_position: str = ""
    #: The side imaged: Image Laterality (0020,0062), else the series' Laterality (0020,0060);
    #: "L", "R", "B" (both) or "U" (unpaired), "" when the header does not say (PS3.3 C.7.6.2).
    laterality: str = ""
    transfer_syntax: str = ""
    photometric: str = ""


@dataclass(frozen=True)
class FileProblem:
    """A file that could not be used, with a human reason and optional details."""

    path: Path
    reason: str
    details: str = ""


@dataclass(frozen=True)
class Series:
    uid: str
    description: str
    number: int | None
    images: tuple[ImageRecord, ...]


@dataclass(frozen=True)
class Study:
    uid: str
    description: str
    date: str
    series: tuple[Series, ...]


@dataclass(frozen=True)
class Patient:
    name: str
    id: str
    studies: tuple[Study, ...]


@dataclass(frozen=True)
class ScanResult:
    """Everything a scan of ``root`` found."""

    root: Path
    patients: tuple[Patient, ...] = ()
    problems: tuple[FileProblem, ...] = ()
    skipped: tuple[FileProblem, ...] = ()

    @property
    def images(self) -> tuple[ImageRecord, ...]:
        """All images in tree order (patient, study, series, instance)."""
        return tuple(
            image
            for patient in self.patients
            for study in patient.studies
            for series in study.series
            for image in series.images
        )
