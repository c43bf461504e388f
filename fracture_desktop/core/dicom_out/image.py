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
        """The analysed frame (the first) when the header states several frames (PS3.3
        C.7.6.6); None for a single-frame image, whose references name no frame."""
        try:
            frames = int(self.header.get("NumberOfFrames", 1) or 1)
        except (TypeError, ValueError):
            return None
        return [1] if frames > 1 else None

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
