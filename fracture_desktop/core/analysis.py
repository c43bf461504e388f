"""Batch analysis: load each image, score it, turn the score into a :class:`Finding`.

The one place where a record is decoded and scored, shared by the viewer's worker, the report
collector, the headless ``scan`` command and the self-test. Every image yields a finding: a
file that cannot be loaded gets ``Flag.NOT_ANALYSED`` and its reason, and the rest of the
batch goes on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fracture_desktop.core.errors import FractureDesktopError
from fracture_desktop.core.findings import Finding, Flag
from fracture_desktop.core.imaging.guard import guarded_image
from fracture_desktop.core.imaging.image import LoadedImage
from fracture_desktop.core.imaging.records import ImageRecord
from fracture_desktop.core.imaging.scan import image_identity
from fracture_desktop.core.jobs import CancelToken, ProgressCallback

if TYPE_CHECKING:  # the engine imports torch; callers hand one in
    from fracture_desktop.core.inference.engine import InferenceEngine, Prediction


@dataclass(frozen=True)
class ReadImage:
    """The part of an analysis that needs no model: the identity and the decoded pixels."""

    record: ImageRecord
    identity: str = ""
    image: LoadedImage | None = None
    error: str = ""


@dataclass(frozen=True)
class Analysis:
    """One record's result.

    Attributes
    ----------
    finding : Finding
        The flag and probability, or ``Flag.NOT_ANALYSED`` with the reason.
    image : LoadedImage or None
        The decoded first frame (spacing, warnings, pixels for a key image); None when it
        could not be decoded.
    prediction : Prediction or None
        The model's output, with its heatmap when one was asked for; None when the image was
        not scored (unreadable, or its finding was already known).
    """

    finding: Finding
    image: LoadedImage | None = None
    prediction: Prediction | None = None


def failure_reason(exc: BaseException) -> str:
    """Why an image could not be analysed, in a few words."""
    if isinstance(exc, FractureDesktopError):
        return exc.reason
    if isinstance(exc, OSError):  # the file vanished or became unreadable since the scan
        return f"cannot read file: {exc.strerror or exc}"
    return f"unexpected error while analysing: {exc!r}"


def read_image(record: ImageRecord) -> ReadImage:
    """Hash / identify and decode ``record``'s first frame; never raises for a bad file.

    Decoding runs in a guarded worker process (:mod:`~fracture_desktop.core.imaging.guard`),
    which turns crashes, overruns and every exception into a typed error.
    """
    try:
        identity = image_identity(record)
    except OSError as exc:
        return ReadImage(record, error=failure_reason(exc))
    try:
        return ReadImage(record, identity, guarded_image(record.path))
    except Exception as exc:  # one odd file must not end a batch of thousands
        return ReadImage(record, identity, error=failure_reason(exc))


def score(
    engine: InferenceEngine, read: ReadImage, heatmap: bool = False, known: Finding | None = None
) -> Analysis:
    """Score an image read by :func:`read_image`; never raises for a bad image.

    Parameters
    ----------
    engine : InferenceEngine
        The loaded model.
    read : ReadImage
        From :func:`read_image`.
    heatmap : bool
        Also compute the Grad-CAM map (``Analysis.prediction.heatmap``).
    known : Finding, optional
        This image's finding from an earlier pass: used as it is, without running the model.
    """
    record, identity, image = read.record, read.identity, read.image
    if image is None:
        return Analysis(Finding(record.path, identity, Flag.NOT_ANALYSED, error=read.error))
    if known is not None:
        return Analysis(known, image)
    try:
        prediction = engine.predict(image, heatmap=heatmap)
    except Exception as exc:  # e.g. an image too small for the network
        finding = Finding(record.path, identity, Flag.NOT_ANALYSED, error=failure_reason(exc))
        return Analysis(finding, image)
    if not math.isfinite(prediction.probability):
        # NaN compares false with every threshold: it would read as "no fracture".
        error = f"the model's output is not a number ({prediction.probability})"
        return Analysis(Finding(record.path, identity, Flag.NOT_ANALYSED, error=error), image)
    finding = Finding(record.path, identity, prediction.flag, prediction.probability)
    return Analysis(finding, image, prediction)


def analyse_record(engine: InferenceEngine, record: ImageRecord, heatmap: bool = False) -> Analysis:
    """Decode and score the first frame of ``record``; never raises for a bad file."""
    return score(engine, read_image(record), heatmap)


def _read_ahead(records: list[ImageRecord], pool: ThreadPoolExecutor) -> Iterator[ReadImage]:
    """Read images in order, the next one decoding while the current one is scored.

    JPEG / DICOM decoding releases the GIL, so it overlaps the forward pass; at most two
    decoded images are alive at once.
    """
    pending: Future[ReadImage] | None = None
    for record in records:
        ahead = pool.submit(read_image, record)
        if pending is not None:
            yield pending.result()
        pending = ahead
    if pending is not None:
        yield pending.result()


def analyse_each(
    records: Iterable[ImageRecord],
    engine: InferenceEngine,
    heatmap: bool = False,
    known: Mapping[Path, Finding] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[Analysis]:
    """Analyse ``records`` in order, decoding one image ahead in a helper thread.

    Parameters
    ----------
    records : iterable of ImageRecord
        What to analyse.
    engine : InferenceEngine
        The loaded model; used only from the calling thread.
    heatmap : bool
        Compute a Grad-CAM map for every image scored.
    known : mapping of Path to Finding, optional
        Findings already computed, by path: those images are decoded but not scored again.
    progress : callable, optional
        ``progress(done, total)`` after each image has been handed out.
    cancel : CancelToken, optional
        Checked before each image; raises :class:`~fracture_desktop.core.jobs.Cancelled`.
        Analyses already handed out stay valid.
    """
    records = list(records)
    known = known or {}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as pool:
        for done, read in enumerate(_read_ahead(records, pool), start=1):
            if cancel is not None:
                cancel.raise_if_cancelled()
            yield score(engine, read, heatmap, known.get(read.record.path))
            if progress is not None:
                progress(done, len(records))


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
    findings: list[Finding] = []
    for analysis in analyse_each(records, engine, progress=progress, cancel=cancel):
        findings.append(analysis.finding)
        if on_finding is not None:
            on_finding(analysis.finding)
    return findings
