"""Batch analysis: load each image, score it, turn the score into a :class:`Finding`.

The one place where a record is decoded and scored, shared by the viewer's worker, the report
collector, the headless ``scan`` command and the self-test. Every image yields a finding: a
file that cannot be loaded gets ``Flag.NOT_ANALYSED`` and its reason, and the rest of the
batch goes on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from fracture_desktop.core.errors import FractureDesktopError
from fracture_desktop.core.findings import Finding, Flag
from fracture_desktop.core.imaging.guard import guarded_image
from fracture_desktop.core.imaging.identity import image_identity
from fracture_desktop.core.imaging.image import LoadedImage, display_grey
from fracture_desktop.core.imaging.model_input import InputSpec
from fracture_desktop.core.imaging.records import ImageRecord
from fracture_desktop.core.jobs import CancelToken, ProgressCallback, ahead
from fracture_desktop.core.prepared import PreparedCache, PreparedImage, prepare

if TYPE_CHECKING:  # callers hand an engine in
    from fracture_desktop.core.inference.prediction import Engine, Heatmap, Prediction

#: Images read ahead of the one being scored (decoded, their model input made): enough to
#: ride out a slow decode, few enough that memory stays flat.
READ_AHEAD = 3


@dataclass(frozen=True)
class ReadImage:
    """The part of an analysis that needs no model: the identity, the decoded pixels and
    the model input made from them; or only the model input prepared when the image was
    first decoded (then ``image`` is None)."""

    record: ImageRecord
    identity: str = ""
    image: LoadedImage | None = None
    error: str = ""
    prepared: PreparedImage | None = None


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
        not scored (unreadable, or the model failed on it).
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


def read_image(
    record: ImageRecord, cache: PreparedCache | None = None, spec: InputSpec | None = None
) -> ReadImage:
    """Hash / identify and decode ``record``'s first frame; never raises for a bad file.

    When ``cache`` holds the model input of ``record`` for ``spec``, that is used instead of
    decoding (see :mod:`fracture_desktop.core.prepared`). Decoding runs in a guarded worker
    process (:mod:`~fracture_desktop.core.imaging.guard`), which turns crashes, overruns and
    every exception into a typed error. With ``spec``, the model input is made here too
    (``ReadImage.prepared``), so that a reader thread does it while the model is busy.
    """
    prepared = cache.take(record, spec) if cache is not None and spec is not None else None
    if prepared is not None:
        return ReadImage(record, prepared.identity, prepared=prepared)
    try:
        identity = image_identity(record)
    except OSError as exc:
        return ReadImage(record, error=failure_reason(exc))
    try:
        image = guarded_image(record.path)
    except Exception as exc:  # one odd file must not end a batch of thousands
        return ReadImage(record, identity, error=failure_reason(exc))
    if spec is None:
        return ReadImage(record, identity, image)
    try:
        prepared = prepare(record, identity, image, spec, display_grey(image))
    except Exception:  # e.g. a non-finite input: scoring the pixels meets it and says why
        prepared = None
    return ReadImage(record, identity, image, prepared=prepared)


def score(engine: Engine, read: ReadImage, heatmap: Heatmap = False) -> Analysis:
    """Score an image read by :func:`read_image`; never raises for a bad image.

    Parameters
    ----------
    engine : Engine
        The loaded model.
    read : ReadImage
        From :func:`read_image`.
    heatmap : bool or "flagged"
        Also compute the Grad-CAM map (``Analysis.prediction.heatmap``); ``"flagged"``: only
        for an image that comes out flagged.
    """
    record, identity, image, prepared = read.record, read.identity, read.image, read.prepared
    predict: Callable[[], Prediction]
    if prepared is not None:
        spacing, warnings = prepared.spacing_source, prepared.warnings
        predict = partial(engine.predict_prepared, prepared, heatmap=heatmap)
    elif image is not None:
        spacing, warnings = (image.spacing.source if image.spacing else None), image.warnings
        predict = partial(engine.predict, image, heatmap=heatmap)
    else:
        return Analysis(Finding(record.path, identity, Flag.NOT_ANALYSED, error=read.error))
    try:
        prediction = predict()
    except Exception as exc:  # e.g. an image too small for the network
        error = failure_reason(exc)
        finding = Finding(record.path, identity, Flag.NOT_ANALYSED, None, error, spacing, warnings)
        return Analysis(finding, image)
    if not math.isfinite(prediction.probability):
        # NaN compares false with every threshold: it would read as "no fracture".
        error = f"the model's output is not a number ({prediction.probability})"
        finding = Finding(record.path, identity, Flag.NOT_ANALYSED, None, error, spacing, warnings)
        return Analysis(finding, image)
    finding = Finding(
        record.path,
        identity,
        prediction.flag,
        prediction.probability,
        "",
        spacing,
        warnings,
        prediction.boxes,
        prediction.domain_score,
    )
    return Analysis(finding, image, prediction)


def analyse_record(engine: Engine, record: ImageRecord, heatmap: bool = False) -> Analysis:
    """Decode and score the first frame of ``record``; never raises for a bad file."""
    return score(engine, read_image(record), heatmap)


def analyse_each(
    records: Iterable[ImageRecord],
    engine: Engine,
    heatmap: Heatmap = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    prepared: PreparedCache | None = None,
) -> Iterator[Analysis]:
    """Analyse ``records`` in order, reading :data:`READ_AHEAD` images ahead in a helper
    thread (decoding, hashing and making the model input overlap the model's pass); an
    engine with several :attr:`~.prediction.Engine.lanes` scores that many at once in
    helper threads of their own.

    Parameters
    ----------
    records : iterable of ImageRecord
        What to analyse.
    engine : Engine
        The loaded model; used only from the calling thread, or its lanes' threads.
    heatmap : bool or "flagged"
        Compute a Grad-CAM map for every image scored, or (``"flagged"``) for the flagged
        ones only.
    progress : callable, optional
        ``progress(done, total)`` after each image has been handed out.
    cancel : CancelToken, optional
        Checked before each image; raises :class:`~fracture_desktop.core.jobs.Cancelled`.
        Analyses already handed out stay valid.
    prepared : PreparedCache, optional
        Model inputs made when the images were first decoded: those images are scored
        without decoding them again, heatmaps included (a heatmap needs only the image's
        shape). A caller that wants key images passes none: those need the pixels.
    """
    records = list(records)
    read = partial(read_image, cache=prepared, spec=engine.card.input_spec)
    scored = partial(score, engine, heatmap=heatmap)
    with ExitStack() as stack:
        reads = stack.enter_context(closing(ahead(read, records, READ_AHEAD, "read-ahead")))
        analyses: Iterator[Analysis]
        if engine.lanes > 1:
            lanes = ahead(scored, reads, engine.lanes, "score", workers=engine.lanes)
            analyses = stack.enter_context(closing(lanes))
        else:  # in this thread: an engine without lanes is used from its owner only
            analyses = map(scored, reads)
        for done, analysis in enumerate(analyses, start=1):
            if cancel is not None:
                cancel.raise_if_cancelled()
            yield analysis
            if progress is not None:
                progress(done, len(records))


def analyse(
    records: Iterable[ImageRecord],
    engine: Engine,
    on_finding: Callable[[Finding], None] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    prepared: PreparedCache | None = None,
) -> list[Finding]:
    """Score every record in order, reporting each finding as it comes.

    Raises :class:`~fracture_desktop.core.jobs.Cancelled` between images when ``cancel`` is
    set; findings already reported stay valid. ``prepared`` as for :func:`analyse_each`.
    """
    findings: list[Finding] = []
    analyses = analyse_each(records, engine, progress=progress, cancel=cancel, prepared=prepared)
    for analysis in analyses:
        findings.append(analysis.finding)
        if on_finding is not None:
            on_finding(analysis.finding)
    return findings
