"""The coded concepts our DICOM results use (PS3.16), and who made them.

Standard codes where PS3.16 has one (SNOMED CT "Fracture", DCM "Imaging Measurement
Report", "Probability"); the rest come from a private coding scheme, as PS3.16 section 8
allows for concepts no standard scheme names: its designator starts with "99".
"""

from __future__ import annotations

from highdicom.sr import CodedConcept
from pydicom.sr.codedict import codes

from fracture_desktop.core.findings import Flag

#: Manufacturer written into every object: how :mod:`.read_back` knows our own SR.
MANUFACTURER = "Fracture Desktop"
#: Our private coding scheme (PS3.16 8: local designators begin with "99").
SCHEME = "99FRACDSK"


def _ours(value: str, meaning: str) -> CodedConcept:
    return CodedConcept(value, SCHEME, meaning)


#: TID 1500's title and the procedure reported.
TITLE = codes.DCM.ImagingMeasurementReport
PROCEDURE = CodedConcept("363680008", "SCT", "Radiographic imaging procedure")
#: Finding type of a whole-image group and of a box.
FRACTURE = CodedConcept("72704001", "SCT", "Fracture")
#: Concept name of the qualitative evaluation that carries the flag.
TRIAGE_RESULT = _ours("FD0001", "Fracture triage result")
#: The flag's coded values; "not analysed" has none: such images are never referenced.
FLAG_CODES: dict[Flag, CodedConcept] = {
    Flag.FRACTURE: FRACTURE,
    Flag.DOUBT: _ours("FD0002", "Doubtful fracture"),
    Flag.NO_FRACTURE: _ours("FD0003", "No fracture flagged"),
    Flag.OUTSIDE_DOMAIN: _ours("FD0004", "Outside the validated domain"),
}
#: Measurement names: the calibrated probability, the two thresholds, a box's score.
PROBABILITY = _ours("FD0010", "Calibrated probability of fracture")
FRACTURE_THRESHOLD = _ours("FD0011", "Fracture threshold")
DOUBT_THRESHOLD = _ours("FD0012", "Doubt threshold")
BOX_SCORE = _ours("FD0013", "Localiser box score")
#: A probability or a score has no unit (UCUM "1").
NO_UNITS = CodedConcept("1", "UCUM", "no units")
#: The KOS title: DCM 113000 "Of Interest" (CID 7010).
KOS_TITLE = codes.DCM.OfInterest


def long_string(text: str) -> str:
    """``text`` as a Long String (LO) holds it: at most 64 characters (PS3.5 6.2), the
    end elided when longer (a long model id in a description)."""
    return text if len(text) <= 64 else text[:61] + "..."


def flag_of(code: CodedConcept) -> Flag | None:
    """The flag a coded value stands for, None for a code that is not one of ours."""
    for flag, known in FLAG_CODES.items():
        if known.value == code.value and known.scheme_designator == code.scheme_designator:
            return flag
    return None
