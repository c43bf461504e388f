"""The source images' headers our objects reference, and what de-identification blanks.

highdicom copies the Patient and Study modules of the first evidence dataset into each new
object (and the source's equipment as Contributing Equipment), and references the source SOP
instances; it needs their headers, never their pixels. Headers are read in the decoder
guard's worker process (a header can crash its parser, docs/ARCHITECTURE.md), checked for
the identifiers a reference needs, and their values vetted: an object never fails
conformance because of a value it copied (docs/REPORTS.md, "Conformance").
"""

from __future__ import annotations

import re
from pathlib import Path

from pydicom import config, valuerep
from pydicom.charset import convert_encodings, python_encoding
from pydicom.datadict import dictionary_VM, dictionary_VR, keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import validate_value

from fracture_desktop.core.errors import UnreferenceableError
from fracture_desktop.core.imaging.dicom import read_dataset
from fracture_desktop.core.imaging.guard import default_guard

#: Identifiers a referenced image must carry (PS3.3 C.12.1, C.7.2.1, C.7.3.1).
REQUIRED = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
#: A UID's form (PS3.5 9.1): components of digits, none with a leading zero but "0" itself.
_UID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")
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
    # Staff names, which the Study module carries too (PS3.15 Table E.1-1: X).
    "NameOfPhysiciansReadingStudy",
    "PhysiciansOfRecord",
    "PerformingPhysicianName",
    "OperatorsName",
    "RequestingPhysician",
)


def uid_fault(value: object) -> str:
    """Why ``value`` is not a valid UID (PS3.5 9.1), "" when it is.

    A UID is an ISO/IEC 8824 object identifier: at most 64 characters, digits and dots,
    no empty component, no leading zero in a component, and a root arc of 0, 1 or 2.
    dciodvfy reports each of these as an error.
    """
    text = "" if value is None else str(value)
    if not text:
        return "missing"
    if len(text) > 64:
        return f"{text!r} is longer than 64 characters"
    if _UID.fullmatch(text) is None:
        return f"{text!r} is not digits and dots without leading zeros"
    if text.split(".")[0] not in ("0", "1", "2"):
        return f"{text!r} has a root other than 0, 1 or 2"
    return ""


def is_uid(value: object) -> bool:
    """True for a valid UID (:func:`uid_fault`)."""
    return not uid_fault(value)


#: Why an analysed image gets no DICOM object when its identifiers are not valid UIDs.
INVALID_UIDS = "no DICOM results: its identifiers are not valid UIDs"


def _header(path: Path) -> Dataset:
    ds = read_dataset(path, header_only=True)
    faults = [f"{k} {uid_fault(ds.get(k))}" for k in REQUIRED if uid_fault(ds.get(k))]
    if faults:
        # A reference must repeat the source's UIDs to point at it: a "repaired" UID would
        # point at nothing, a copied invalid one fails conformance (docs/REPORTS.md).
        raise UnreferenceableError(path, INVALID_UIDS, "; ".join(faults))
    return ds


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
#: Text VRs whose values use the Specific Character Set (PS3.5 6.1.2.3), with the control
#: characters each allows (PS3.5 6.2): ESC for code extensions; line breaks in texts.
_TEXT_CONTROLS = {
    "SH": "\x1b",
    "LO": "\x1b",
    "PN": "\x1b",
    "UC": "\x1b",
    "ST": "\x1b\r\n\f\t",
    "LT": "\x1b\r\n\f\t",
    "UT": "\x1b\r\n\f\t",
}


def _encodings(ds: Dataset) -> list[str]:
    """The Python codecs of ``ds``'s Specific Character Set; ASCII for the default
    repertoire (PS3.5 6.1.2.1), which pydicom reads leniently as Latin-1."""
    charset = ds.get("SpecificCharacterSet") or []
    names = [charset] if isinstance(charset, str) else list(charset)
    return ["ascii" if codec == "iso8859" else codec for codec in convert_encodings(names or [""])]


def _vm_fits(spec: str, count: int) -> bool:
    """Whether ``count`` values fit a Value Multiplicity such as "1", "1-3", "2-2n" (PS3.5 6.4)."""
    low, _, high = spec.partition("-")
    if not high:
        return count == int(low)
    if high.endswith("n"):
        return count >= int(low) and count % int(high[:-1] or 1) == 0
    return int(low) <= count <= int(high)


def _value_fits(keyword: str, vr: str, value: object, encodings: list[str]) -> bool:
    if vr in ("IS", "DS"):
        # Numbers read from text: the text is what is written again.
        value = str(getattr(value, "original_string", None) or value)
    validate_value(vr, value, config.RAISE)
    text = str(value)
    if vr == "DA":
        valuerep.DA(text)  # a real calendar date, not only eight digits
    if keyword == "PatientSex" and text not in ("M", "F", "O"):
        return False  # PS3.3 C.7.1.1: enumerated values
    if vr in _TEXT_CONTROLS:
        controls = _TEXT_CONTROLS[vr]
        if any(ord(c) < 32 and c not in controls for c in text):
            return False
        # Every character in the declared repertoire; code extensions may switch between
        # the character sets named (PS3.5 6.1.2.5).
        return all(any(_encodes(c, codec) for codec in encodings) for c in text)
    return True


def _encodes(character: str, codec: str) -> bool:
    try:
        character.encode(codec)
    except (UnicodeError, LookupError):
        return False
    return True


def fits(element: DataElement, encodings: list[str]) -> bool:
    """Whether ``element`` is valid as a new object must carry it: each value valid for its
    VR (PS3.5 6.2: characters, length, date and time forms) and in the character
    repertoire declared, as many values as its VM allows (PS3.5 6.4), every item of a
    sequence valid."""
    if element.VR == "SQ":
        return all(_item_fits(item, encodings) for item in element.value)
    value = element.value
    if value is None or value == "" or element.VR == "UN" or element.tag.is_private:
        return True
    values = list(value) if isinstance(value, (MultiValue, list, tuple)) else [value]
    try:
        spec = dictionary_VM(element.tag)
        if not _vm_fits(spec, len(values)):
            return False
    except (KeyError, ValueError):
        pass  # a VM the dictionary does not state plainly ("1-n or 1"): not checked
    try:
        return all(_value_fits(element.keyword, element.VR, v, encodings) for v in values)
    except (ValueError, TypeError, OverflowError):
        return False


def _item_fits(item: Dataset, encodings: list[str]) -> bool:
    try:
        return all(fits(element, encodings) for element in item)
    except Exception:  # a raw element that does not convert
        return False


def copyable(ds: Dataset) -> Dataset:
    """``ds`` (our in-memory copy of a header) made fit for highdicom to reference and copy.

    Real headers break rules that highdicom enforces or dciodvfy checks; each repair is
    made to this copy only and is listed in docs/REPORTS.md ("Conformance"):

    - a Specific Character Set with a term PS3.3 C.12.1.1.2 does not define is dropped (its
      text is then read in the default repertoire); a single character set named with code
      extensions ("ISO 2022 IR 100") gets its plain name;
    - every public attribute whose value does not :func:`fits` is blanked when it is one of
      :data:`COPIED` (Type 2 in our objects) and left out otherwise: a date "2004.08.26", an
      accession number over 16 characters, a sex "0000", a name in bytes outside the
      declared repertoire, two values where one is allowed, a sequence holding such a value;
    - a missing attribute of :data:`COPIED` is added empty, a missing Modality (Type 1,
      PS3.3 C.7.3.1) reads "OT".

    The identifiers of :data:`REQUIRED` are checked before, never changed.
    """
    charset = ds.get("SpecificCharacterSet")
    names = [charset] if isinstance(charset, str) else list(charset or [])
    if any(name not in python_encoding for name in names):
        del ds.SpecificCharacterSet
    elif isinstance(charset, str) and charset.startswith("ISO 2022 IR "):
        ds.SpecificCharacterSet = charset.replace("ISO 2022 IR ", "ISO_IR ")
    encodings = _encodings(ds)
    for tag in list(ds.keys()):
        keyword = keyword_for_tag(tag)
        if tag.group == 0x0002 or tag.is_private or keyword in (*REQUIRED, "SpecificCharacterSet"):
            continue
        try:
            keep = fits(ds[tag], encodings)
        except Exception:  # a raw value that does not even convert
            keep = False
        if keep:
            continue
        del ds[tag]
        if keyword in COPIED:
            ds.add_new(tag, dictionary_VR(tag), "")
    for keyword in COPIED:
        if keyword not in ds or ds[keyword].value is None:
            ds.add_new(keyword, dictionary_VR(keyword), "")
    if not ds.get("Modality"):
        ds.Modality = "OT"
    return ds


def source_header(path: Path) -> Dataset:
    """The header of the image at ``path``, read in a guarded worker process.

    Raises
    ------
    UnreferenceableError
        The header lacks a valid SOP Class, SOP Instance, Study or Series Instance UID
        (:func:`uid_fault`): a reference could not point at the image.
    ImageLoadError
        The header cannot be read.
    """
    # Vetted here, not in the worker: converted values do not all cross back by pickle (a
    # LUT Descriptor's do not), the raw ones do.
    return copyable(default_guard().call(_header, Path(path)))


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
