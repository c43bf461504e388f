"""Report entries built by hand, so writer tests need neither a model nor real files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np

from fracture_desktop.core.boxes import Box
from fracture_desktop.core.decisions import Decision
from fracture_desktop.core.findings import Finding, Flag, Thresholds
from fracture_desktop.core.imaging.image import LoadedImage, SpacingSource, VoiWindow
from fracture_desktop.core.imaging.model_input import InputSpec
from fracture_desktop.core.imaging.records import FileProblem, ImageRecord, SourceKind
from fracture_desktop.core.prepared import PreparedImage
from fracture_desktop.core.report import (
    ModelIdentity,
    ReportContext,
    ReportEntry,
    key_image_of,
)

if TYPE_CHECKING:  # the engine module imports torch; the writer tests need not
    from fracture_desktop.core.inference.engine import Prediction

PATIENT = "Müller^Jürgen"
#: A localiser's box on the first entry's image.
BOX = Box(10.0, 20.0, 30.5, 40.0, 0.91)
#: Window Center & Width Explanation is free text: sites have been seen to put names in it.
WINDOW = VoiWindow(center=0.5, width=1.0, explanation="BONE for Dr Okafor")
SOURCE = "/data/study"


def context() -> ReportContext:
    model = ModelIdentity(
        id="fracture_net-test",
        version="9.9.9",
        sha256_prefix="0123456789ab",
        thresholds=Thresholds(fracture=0.7, doubt=0.3),
        intended_use="Research and reading aid; not a diagnosis.",
    )
    created = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    return ReportContext(model, SOURCE, created, "1.2.3", runs_on="cpu, ONNX Runtime 9.9.9")


def key_image(spot: int = 150) -> object:
    """A bright bar on black with a hot spot over it (at row ``spot``): visibly not blank
    when rendered, and two spots give two distinct pictures."""
    grey = np.zeros((300, 200), dtype=np.float32)
    grey[50:250, 80:120] = 0.9
    grey[spot, :] = 0.5  # a line at the spot: the plain pictures differ too
    yy, xx = np.mgrid[0:300, 0:200]
    heat = np.exp(-((yy - spot) ** 2 + (xx - 100) ** 2) / 800.0).astype(np.float32)
    return key_image_of(LoadedImage(Path("k.dcm"), 0, grey, grey, (WINDOW,)), heat)


def entries() -> list[ReportEntry]:
    dicom = ImageRecord(
        path=Path(SOURCE) / "a" / "wrist.dcm",
        kind=SourceKind.DICOM,
        patient_name=PATIENT,
        patient_id="PID-77",
        patient_birth_date="19500101",
        study_uid="1.2.3.4",
        series_uid="1.2.3.4.5",
        sop_instance_uid="1.2.3.4.5.6",
        modality="DX",
        body_part="WRIST",
        view_position="PA",
    )
    plain = ImageRecord(path=Path(SOURCE) / "hand.jpg", kind=SourceKind.PLAIN, study_uid="folder:.")
    return [
        ReportEntry(
            dicom.path,
            Finding(dicom.path, "1.2.3.4.5.6", Flag.FRACTURE, 0.91, boxes=(BOX,)),
            dicom,
            Decision.CONFIRMED,
            SpacingSource.IMAGER_CORRECTED,
            key_image=key_image(),
        ),
        ReportEntry(
            plain.path,
            Finding(plain.path, "sha256:abc", Flag.DOUBT, 0.4),
            plain,
            warnings=("JPEG data ends early: the last rows may be missing",),
            key_image=key_image(spot=100),
        ),
        ReportEntry(plain.path, Finding(plain.path, "sha256:def", Flag.NO_FRACTURE, 0.1), plain),
        ReportEntry.from_problem(FileProblem(Path(SOURCE) / "=cmd.dcm", "empty file")),
    ]


class CountingEngine:
    """Flags every image as doubt and records which images it scored."""

    # A classifier (key images show Grad-CAM); the analysis makes its input ahead.
    card = SimpleNamespace(localiser=None, input_spec=InputSpec(64))
    lanes = 1

    def __init__(self) -> None:
        self.scored: list[str] = []

    def predict(self, image: LoadedImage, heatmap: bool | str = False) -> Prediction:
        return self._score(image.path, image.shape, heatmap)

    def predict_prepared(self, prepared: PreparedImage, heatmap: bool | str = False) -> Prediction:
        return self._score(prepared.record.path, prepared.shape, heatmap)

    def _score(self, path: Path, shape: tuple[int, int], heatmap: bool | str) -> Prediction:
        from fracture_desktop.core.inference.engine import Prediction

        self.scored.append(path.name)
        heat = np.full(shape, 0.5, dtype=np.float32) if heatmap else None
        return Prediction(0.5, Flag.DOUBT, heat)
