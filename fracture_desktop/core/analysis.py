"""Batch analysis: load each image, score it, turn the score into a :class:`Finding`.

Shared by the viewer's worker and the headless ``scan`` command. Every image yields a
finding: a file that cannot be loaded gets ``Flag.NOT_ANALYSED`` and its reason, and the
rest of the batch goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from fracture_desktop.core.errors import FractureDesktopError
from fracture_desktop.core.findings import Finding, Flag
from fracture_desktop.core.imaging.loader import load_image
from fracture_desktop.core.imaging.records import ImageRecord
from fracture_desktop.core.imaging.scan import image_identity
from fracture_desktop.core.jobs import CancelToken, ProgressCallback

if TYPE_CHECKING:  # the engine imports torch; callers hand one in
    from fracture_desktop.core.inference.engine import InferenceEngine, Prediction


def analyse_record(
    engine: InferenceEngine, record: ImageRecord, heatmap: bool = False
) -> tuple[Finding, Prediction | None]:
    """Score the first frame of ``record``; never raises for a bad file."""
    try:
        identity = image_identity(record)
    except OSError as exc:
        return Finding(record.path, "", Flag.NOT_ANALYSED, error=f"cannot read file: {exc}"), None
    try:
        prediction = engine.predict(load_image(record.path), heatmap=heatmap)
    except FractureDesktopError as exc:
        return Finding(record.path, identity, Flag.NOT_ANALYSED, error=exc.reason), None
    finding = Finding(record.path, identity, prediction.flag, prediction.probability)
    return finding, prediction


def analyse(
    records: Iterable[ImageRecord],
    engine: InferenceEngine,
    on_finding: Callable[[Finding], None] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[Finding]:
    """Score every record in order, reporting each finding as it comes.

    Raises :class:`~fracture_desktop.core.jobs.Cancelled` between images when ``cancel`` is
    set; findings already reported stay valid.
    """
    records = list(records)
    findings: list[Finding] = []
    for done, record in enumerate(records, start=1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        finding, _ = analyse_record(engine, record)
        findings.append(finding)
        if on_finding is not None:
            on_finding(finding)
        if progress is not None:
            progress(done, len(records))
    return findings
