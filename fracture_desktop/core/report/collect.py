"""Analyse scanned images into report entries, keeping only what a report needs.

Each image is decoded (one image ahead, in a helper thread, by
:func:`~fracture_desktop.core.analysis.analyse_each`), scored and dropped: only flagged images
keep a small key image (see :class:`~fracture_desktop.core.report.entries.KeyImage`), so memory
stays flat however large the folder is.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fracture_desktop.core.analysis import Analysis, analyse_each, read_image
from fracture_desktop.core.decisions import DecisionStore
from fracture_desktop.core.findings import Finding, Flag
from fracture_desktop.core.imaging.records import FileProblem, ImageRecord
from fracture_desktop.core.jobs import CancelToken, ProgressCallback
from fracture_desktop.core.report.entries import ModelIdentity, ReportContext, ReportEntry
from fracture_desktop.core.report.imagery import key_image_of
from fracture_desktop.core.shift import findings_shift

if TYPE_CHECKING:  # callers hand an engine in
    from fracture_desktop.core.inference.prediction import Engine, Heatmap

#: Analysed images whose report entries (key images) may be in the making at once.
KEY_IMAGES_AHEAD = 2


def report_entry(
    analysis: Analysis,
    record: ImageRecord,
    decisions: DecisionStore | None = None,
    key_image: bool = False,
    heatmap: np.ndarray | None = None,
) -> ReportEntry:
    """Make the report entry of an analysed image.

    Parameters
    ----------
    analysis : Analysis
        From :func:`~fracture_desktop.core.analysis.analyse_each`.
    record : ImageRecord
        The image's header facts.
    decisions : DecisionStore, optional
        Where the reader's confirm / reject is looked up.
    key_image : bool
        Keep a key image (with the heatmap, when the analysis made one) if the image is
        flagged, for the PDF.
    """
    finding, image = analysis.finding, analysis.image
    identity = finding.identity
    decision = decisions.get(identity) if decisions is not None and identity else None
    reader = decisions.reader_of(identity) if decisions is not None and decision else ""
    if finding.flag is Flag.NOT_ANALYSED:
        return ReportEntry(record.path, finding, record, decision, reader=reader)
    picture = None
    if key_image and finding.flag.is_flagged and image is not None:
        heat = heatmap if analysis.prediction is None else analysis.prediction.heatmap
        picture = key_image_of(image, heat, finding.drawn_boxes)
    return ReportEntry(
        record.path, finding, record, decision, finding.spacing_source, finding.warnings,
        picture, reader,
    )  # fmt: skip


def collect_entries(
    records: Iterable[ImageRecord],
    engine: Engine,
    problems: Iterable[FileProblem] = (),
    decisions: DecisionStore | None = None,
    key_images: bool = False,
    on_entry: Callable[[ReportEntry], None] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    known: Mapping[Path, Finding] | None = None,
    known_heatmaps: Mapping[Path, np.ndarray] | None = None,
    on_scored: Callable[[Analysis], None] | None = None,
) -> list[ReportEntry]:
    """Analyse ``records`` in order, then list ``problems`` as not analysed.

    Parameters
    ----------
    records : iterable of ImageRecord
        Usually ``ScanResult.images``.
    engine : Engine
        The loaded model.
    problems : iterable of FileProblem
        Files the scan could not read (``ScanResult.problems``): reported with their reason.
    decisions : DecisionStore, optional
        Reader decisions to include.
    key_images : bool
        Keep key images of flagged images (needed for the PDF only). Their heatmaps come
        from the scoring pass itself: the forward pass is shared, and only flagged images
        pay for Grad-CAM's backward pass.
    on_entry : callable, optional
        Called with each entry as soon as it is made.
    progress : callable, optional
        ``progress(done, total)`` after each image.
    cancel : CancelToken, optional
        Checked between images; raises :class:`~fracture_desktop.core.jobs.Cancelled`.
    known : mapping of Path to Finding, optional
        Findings the caller already has (the viewer's): their images are neither decoded nor
        scored again (the finding carries the spacing source and warnings), except flagged
        ones when key images are wanted, as those need the pixels and a heatmap.
    known_heatmaps : mapping of Path to np.ndarray, optional
        Heatmaps of known flagged findings (the viewer keeps them with its results): those
        images are decoded for their key image but not scored again.
    on_scored : callable, optional
        Called with each image's fresh analysis (not the known ones) as soon as it is made,
        e.g. to keep it in the results store.
    """
    heatmaps = known_heatmaps or {}
    reuse = {
        path: finding
        for path, finding in (known or {}).items()
        if finding.probability is not None
        and not (key_images and finding.flag.is_flagged and path not in heatmaps)
    }
    records = list(records)
    entries: list[ReportEntry] = []

    def keep(entry: ReportEntry) -> None:
        entries.append(entry)
        if on_entry is not None:
            on_entry(entry)

    fresh = [r for r in records if r.path not in reuse]
    # Key images show a localiser's boxes, else the Grad-CAM map of the flagged images.
    wanted: Heatmap = "flagged" if key_images and engine.card.localiser is None else False
    analyses = analyse_each(fresh, engine, wanted, cancel=cancel)
    # Key images (resize, blend, JPEG) are made in a helper thread while the model scores
    # the next image; PIL releases the GIL for that work. At most KEY_IMAGES_AHEAD analyses
    # (decoded pixels and heatmap) wait for it, so memory stays flat.
    pending: deque[Future[ReportEntry]] = deque()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="key-images") as pool:
        for done, record in enumerate(records, start=1):
            if cancel is not None:
                cancel.raise_if_cancelled()
            known_finding = reuse.get(record.path)
            if known_finding is None:
                analysis = next(analyses)
                if on_scored is not None:
                    on_scored(analysis)
            elif key_images and known_finding.flag.is_flagged:  # pixels for its key image
                analysis = Analysis(known_finding, read_image(record).image)
            else:
                analysis = Analysis(known_finding)
            heat = heatmaps.get(record.path)
            pending.append(pool.submit(report_entry, analysis, record, decisions, key_images, heat))
            while len(pending) > KEY_IMAGES_AHEAD:
                keep(pending.popleft().result())
            if progress is not None:
                progress(done, len(records))
        while pending:
            keep(pending.popleft().result())
    for problem in problems:
        keep(ReportEntry.from_problem(problem))
    return entries


def engine_context(
    engine: Engine, entries: Iterable[ReportEntry], source: str
) -> ReportContext:
    """The report context of ``entries`` scored by ``engine``: its identity, the thresholds
    it flagged with (the card's or a site profile's), and the folder shift test."""
    shift = None
    if engine.domain is not None:
        shift = findings_shift(
            [e.finding for e in entries], engine.domain.val_scores, engine.domain.val_probabilities
        )
    model = ModelIdentity.from_card(engine.card, engine.thresholds, engine.thresholds_source)
    return ReportContext(model, source=source, shift=shift, runs_on=engine.runs_on)
