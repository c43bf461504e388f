"""An analysed DICOM image as our objects see it: its report entry and its header."""

from __future__ import annotations

from dataclasses import dataclass

# highdicom's own table of the SOP classes it knows, so that our references agree with the
# checks highdicom makes; it has no public name for it (highdicom 0.28).
from highdicom._standard_utils import get_sop_class_iod_map
from highdicom.utils import is_multiframe_image
from pydicom.dataset import Dataset

from fracture_desktop.core.report.entries import ReportEntry

#: Retired image SOP classes (PS3.6 Annex A) and the current class of the same kind of
#: image (PS3.4 B.5): highdicom knows current classes only.
SUCCESSORS = {
    "1.2.840.10008.5.1.4.1.1.6": "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image
    "1.2.840.10008.5.1.4.1.1.3": "1.2.840.10008.5.1.4.1.1.3.1",  # Ultrasound Multi-frame
    "1.2.840.10008.5.1.4.1.1.5": "1.2.840.10008.5.1.4.1.1.20",  # Nuclear Medicine Image
    "1.2.840.10008.5.1.4.1.1.12.3": "1.2.840.10008.5.1.4.1.1.12.1",  # X-Ray Angio Bi-plane
}
#: Stands in for any other class highdicom does not know (a private one): Secondary
#: Capture, whose Patient and Study modules are those of every image IOD (PS3.3 A.8.1).
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def stand_in(sop_class: str) -> str:
    """The SOP class highdicom is shown for a source of class ``sop_class``: the class
    itself when highdicom knows it, else its successor or Secondary Capture."""
    if sop_class in get_sop_class_iod_map():
        return sop_class
    return SUCCESSORS.get(sop_class, SECONDARY_CAPTURE)


@dataclass(frozen=True)
class AnalysedImage:
    """A report entry with a finding, and the source header highdicom references.

    Attributes
    ----------
    entry : ReportEntry
        The triage's entry; its finding has a probability (the image was analysed).
    header : Dataset
        The source's header, without pixels (de-identified when asked); its SOP Class UID
        is :func:`stand_in`'s for a class highdicom does not know.
    sop_class_uid : str
        The source's own SOP Class UID: what every reference written carries.
    """

    entry: ReportEntry
    header: Dataset
    sop_class_uid: str

    @classmethod
    def of(cls, entry: ReportEntry, header: Dataset) -> AnalysedImage:
        """``entry`` and ``header`` (our copy, given a stand-in class where needed)."""
        own = str(header.SOPClassUID)
        header.SOPClassUID = stand_in(own)
        return cls(entry, header, own)

    # Sizes as the scan read them (records.py), robust to values such as "1A".

    @property
    def rows(self) -> int:
        assert self.entry.record is not None  # analysed images have their record
        return self.entry.record.rows

    @property
    def columns(self) -> int:
        assert self.entry.record is not None
        return self.entry.record.columns

    @property
    def frames(self) -> int:
        assert self.entry.record is not None
        return self.entry.record.frames

    @property
    def referenced_frames(self) -> list[int] | None:
        """The analysed frame (the first) when the SOP class is a multi-frame IOD, whose
        references name a frame (PS3.3 Table 10-3, Image SOP Instance Reference Macro);
        None otherwise, also for a single-frame IOD whose header states several frames
        (the reference is then to the instance)."""
        return [1] if is_multiframe_image(self.header) else None

    @property
    def grey(self) -> bool:
        """One sample per pixel: what a grayscale presentation state can be applied to."""
        return int(self.header.get("SamplesPerPixel", 1) or 1) == 1

    @property
    def sop_instance_uid(self) -> str:
        return str(self.header.SOPInstanceUID)

    @property
    def laterality(self) -> str:
        """For a new object's General Series (Laterality, Type 2C, PS3.3 C.7.3.1): the
        source's Laterality or Image Laterality when R or L, else empty."""
        value = str(self.header.get("Laterality", "") or self.header.get("ImageLaterality", ""))
        return value if value in ("R", "L") else ""

    @property
    def study_uid(self) -> str:
        return str(self.header.StudyInstanceUID)
