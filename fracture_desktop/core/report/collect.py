"""Analyse scanned images into report entries, keeping only what a report needs.

Each image is decoded (one image ahead, in a helper thread), scored and dropped: only flagged
images keep a small key image (see :class:`~fracture_desktop.core.report.model.KeyImage`), so
memory stays flat however large the folder is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fracture_desktop.core.decisions import DecisionStore
from fracture_desktop.core.errors import FractureDesktopError
from fracture_desktop.core.findings import Finding, Flag
from fracture_desktop.core.imaging.image import LoadedImage, default_voi, display_grey
from fracture_desktop.core.imaging.loader import load_image
from fracture_desktop.core.imaging.records import FileProblem, ImageRecord
from fracture_desktop.core.imaging.scan import image_identity
from fracture_desktop.core.jobs import CancelToken, ProgressCallback
from fracture_desktop.core.report.imagery import make_key_image, window_label
from fracture_desktop.core.report.model import ReportEntry

if TYPE_CHECKING:  # the engine imports torch; callers hand one in
    from fracture_desktop.core.inference.engine import InferenceEngine


@dataclass(frozen=True)
class ReadImage:
    """The part of an analysis that needs no model: the identity and the decoded pixels."""

    record: ImageRecord
    identity: str = ""
    image: LoadedImage | None = None
    error: str = ""


def read_image(record: ImageRecord) -> ReadImage:
    """Hash / identify and decode ``record``'s first frame; never raises for a bad file."""
    try:
        identity = image_identity(record)
    except OSError as exc:
        return ReadImage(record, error=failure_reason(exc))
    try:
        return ReadImage(record, identity, load_image(record.path))
    except Exception as exc:  # one odd file must not end a batch of thousands
        return ReadImage(record, identity, error=failure_reason(exc))


def score_image(
    engine: InferenceEngine,
    read: ReadImage,
    decisions: DecisionStore | None = None,
    key_image: bool = False,
) -> ReportEntry:
    """Score an image read by :func:`read_image` and make its report entry."""
    record, identity, image = read.record, read.identity, read.image
    decision = decisions.get(identity) if decisions is not None and identity else None
    error = read.error
    if image is not None:
        try:
            prediction = engine.predict(image, heatmap=key_image)
        except Exception as exc:  # e.g. an image too small for the network
            error = failure_reason(exc)
    if image is None or error:
        finding = Finding(record.path, identity, Flag.NOT_ANALYSED, error=error)
        return ReportEntry(record.path, finding, record, decision)
    finding = Finding(record.path, identity, prediction.flag, prediction.probability)
    picture = None
    if key_image and prediction.flag in (Flag.FRACTURE, Flag.DOUBT):
        voi = None if image.is_colour else default_voi(image)
        grey = display_grey(image, voi)
        picture = make_key_image(grey, prediction.heatmap, window_label(voi))
    spacing = image.spacing.source if image.spacing else None
    return ReportEntry(record.path, finding, record, decision, spacing, image.warnings, picture)


def analyse_entry(
    engine: InferenceEngine,
    record: ImageRecord,
    decisions: DecisionStore | None = None,
    key_image: bool = False,
) -> ReportEntry:
    """Score the first frame of ``record``; never raises for a bad file.

    Like :func:`fracture_desktop.core.analysis.analyse_record`, but it also needs the
    loaded image (spacing source, warnings, key image), which that function does not
    return; decoding twice would halve the throughput.

    Parameters
    ----------
    engine : InferenceEngine
        The loaded model.
    record : ImageRecord
        From a folder scan.
    decisions : DecisionStore, optional
        Where the reader's confirm / reject is looked up.
    key_image : bool
        Keep a key image with its heatmap when the image is flagged (for the PDF). Every
        image then gets its heatmap in the scoring pass: Grad-CAM adds little to a forward
        pass, while a second pass for flagged images only would cost a full forward each.
    """
    return score_image(engine, read_image(record), decisions, key_image)


def _read_ahead(records: Sequence[ImageRecord], pool: ThreadPoolExecutor) -> Iterator[ReadImage]:
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


def failure_reason(exc: Exception) -> str:
    """The error cell for an image that could not be analysed."""
    if isinstance(exc, FractureDesktopError):
        return exc.reason
    if isinstance(exc, OSError):  # the file vanished or became unreadable since the scan
        return f"cannot read file: {exc.strerror or exc}"
    return f"unexpected error while analysing: {exc!r}"


def collect_entries(
    records: Iterable[ImageRecord],
    engine: InferenceEngine,
    problems: Iterable[FileProblem] = (),
    decisions: DecisionStore | None = None,
    key_images: bool = False,
    on_entry: Callable[[ReportEntry], None] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[ReportEntry]:
    """Analyse ``records`` in order, then list ``problems`` as not analysed.

    Parameters
    ----------
    records : iterable of ImageRecord
        Usually ``ScanResult.images``.
    engine : InferenceEngine
        The loaded model.
    problems : iterable of FileProblem
        Files the scan could not read (``ScanResult.problems``): reported with their reason.
    decisions : DecisionStore, optional
        Reader decisions to include.
    key_images : bool
        Keep key images of flagged images (needed for the PDF only).
    on_entry : callable, optional
        Called with each entry as soon as it is made.
    progress : callable, optional
        ``progress(done, total)`` after each image.
    cancel : CancelToken, optional
        Checked between images; raises :class:`~fracture_desktop.core.jobs.Cancelled`.
    """
    records = list(records)
    entries: list[ReportEntry] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-read") as pool:
        for done, read in enumerate(_read_ahead(records, pool), start=1):
            if cancel is not None:
                cancel.raise_if_cancelled()
            entry = score_image(engine, read, decisions, key_images)
            entries.append(entry)
            if on_entry is not None:
                on_entry(entry)
            if progress is not None:
                progress(done, len(records))
    for problem in problems:
        entry = ReportEntry.from_problem(problem)
        entries.append(entry)
        if on_entry is not None:
            on_entry(entry)
    return entries
