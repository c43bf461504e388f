"""The source images' headers our objects reference, and what de-identification blanks.

highdicom copies the Patient and Study modules of the first evidence dataset into each new
object, and references the source SOP instances; it needs their headers, never their
pixels. Headers are read in the decoder guard's worker process (a header can crash its
parser, docs/ARCHITECTURE.md) and checked for the identifiers a reference needs.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydicom import config, valuerep
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pydicom.valuerep import validate_value

from fracture_desktop.core.errors import CorruptImageError
from fracture_desktop.core.imaging.dicom import read_dataset
from fracture_desktop.core.imaging.guard import default_guard

#: Identifiers a referenced image must carry (PS3.3 C.12.1, C.7.2.1, C.7.3.1).
REQUIRED = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
#: A well-formed UID (PS3.5 9.1): digits and dots, at most 64 characters.
_UID = re.compile(r"[0-9]+(\.[0-9]+)*")
#: What de-identification blanks in the copied Patient and Study modules: the patient's
#: name, ID and birth date, as every other report (docs/REPORTS.md), plus the study's own
#: identifiers and the referring physician, which name or point at the patient.
BLANKED = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "AccessionNumber",
    "StudyID",
    "ReferringPhysicianName",
)
#: Removed outright: other patient identifiers and free text a PACS would copy along.
REMOVED = (
    "OtherPatientIDs",
    "OtherPatientIDsSequence",
    "OtherPatientNames",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "PatientComments",
    "IssuerOfPatientID",
    "StudyDescription",
    "InstitutionName",
    "InstitutionAddress",
)


def is_uid(value: object) -> bool:
    """True for a well-formed UID (PS3.5 9.1)."""
    text = str(value)
    return len(text) <= 64 and _UID.fullmatch(text) is not None


def _header(path: Path) -> Dataset:
    ds = read_dataset(path, header_only=True)
    missing = [k for k in REQUIRED if not is_uid(ds.get(k, ""))]
    if missing:
        raise CorruptImageError(path, "cannot be referenced", f"no valid {', '.join(missing)}")
    return copyable(ds)


#: Patient and study attributes our objects carry (Type 2 there: present, maybe empty).
COPIED = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "ReferringPhysicianName",
    "StudyID",
)


def _valid(keyword: str, value: object) -> bool:
    """Whether ``value`` is a valid value of ``keyword``'s VR (PS3.5 6.2: characters,
    length, date and time forms), as a new object must carry it."""
    if keyword == "PatientSex" and str(value) not in ("M", "F", "O", ""):
        return False  # PS3.3 C.7.1.1: enumerated values
    try:
        validate_value(dictionary_VR(keyword), value, config.RAISE)
        if keyword.endswith("Date") and value:
            valuerep.DA(str(value))  # a real calendar date, not only eight digits
    except (ValueError, TypeError, OverflowError, KeyError):
        return False
    return True


def copyable(ds: Dataset) -> Dataset:
    """``ds`` (our in-memory copy of a header) made fit for highdicom to reference and copy.

    Real headers break rules that highdicom enforces; each repair is made to this copy only
    and is listed in docs/REPORTS.md ("Conformance"): a missing Modality (Type 1, PS3.3
    C.7.3.1) reads "OT"; a missing patient or study attribute of :data:`COPIED` is added
    empty; one that is not a valid value of its VR (a date "2004.08.26", an accession number
    longer than 16 characters, a sex "0000") is blanked; a single
    character set named with code extensions ("ISO 2022 IR 100") gets its plain name.
    """
    if not ds.get("Modality"):
        ds.Modality = "OT"
    for keyword in COPIED:
        if keyword not in ds or ds[keyword].value is None:
            ds.add_new(keyword, dictionary_VR(keyword), "")
        elif not _valid(keyword, ds[keyword].value):
            ds[keyword].value = ""
    charset = ds.get("SpecificCharacterSet")
    if isinstance(charset, str) and charset.startswith("ISO 2022 IR "):
        ds.SpecificCharacterSet = charset.replace("ISO 2022 IR ", "ISO_IR ")
    return ds


def source_header(path: Path) -> Dataset:
    """The header of the image at ``path``, read in a guarded worker process.

    Raises
    ------
    ImageLoadError
        The header cannot be read, or lacks a valid SOP Class, SOP Instance, Study or
        Series Instance UID (a reference to it would be meaningless).
    """
    return default_guard().call(_header, Path(path))


def deidentified(ds: Dataset) -> Dataset:
    """A copy of ``ds`` with :data:`BLANKED` emptied and :data:`REMOVED` left out.

    UIDs are kept (the Retain UIDs Option of PS3.15 E.3.1), so the objects still file into
    the source's study; :func:`mark_deidentified` says so in each object.
    """
    copy = Dataset()
    copy.update(ds)
    for keyword in BLANKED:
        if keyword in copy:
            copy[keyword].value = ""
    for keyword in REMOVED:
        if keyword in copy:
            del copy[keyword]
    return copy


#: What the De-identification Method (0012,0063, LO: 64 characters at most) says; the list
#: is in docs/REPORTS.md. No CID 7050 code is claimed: the headers keep more than the Basic
#: Application Confidentiality Profile allows (dates, sex).
DEIDENTIFICATION_METHOD = "Fracture Desktop: patient identifiers blanked, UIDs retained"


def mark_deidentified(ds: Dataset) -> None:
    """Record in ``ds`` that it was made from de-identified headers (PS3.3 C.7.1.1)."""
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = DEIDENTIFICATION_METHOD
