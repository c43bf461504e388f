"""An analysed DICOM image as our objects see it: its report entry and its header."""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.dataset import Dataset

from fracture_desktop.core.report.entries import ReportEntry


@dataclass(frozen=True)
class AnalysedImage:
    """A report entry with a finding, and the source header highdicom references.

    Attributes
    ----------
    entry : ReportEntry
        The triage's entry; its finding has a probability (the image was analysed).
    header : Dataset
        The source's header, without pixels (de-identified when asked).
    """

    entry: ReportEntry
    header: Dataset

    @property
    def rows(self) -> int:
        return int(self.header.Rows)

    @property
    def columns(self) -> int:
        return int(self.header.Columns)

    @property
    def frames(self) -> int:
        return int(self.header.get("NumberOfFrames", 1) or 1)

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
