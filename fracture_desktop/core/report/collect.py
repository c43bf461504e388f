"""Analyse scanned images into report entries, keeping only what a report needs.

Each image is decoded (one image ahead, in a helper thread, by
:func:`~fracture_desktop.core.analysis.analyse_each`), scored and dropped: only flagged images
keep a small key image (see :class:`~fracture_desktop.core.report.model.KeyImage`), so memory
stays flat however large the folder is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from fracture_desktop.core.analysis import Analysis, analyse_each
from fracture_desktop.core.decisions import DecisionStore
from fracture_desktop.core.findings import Finding, Flag
from fracture_desktop.core.imaging.records import FileProblem, ImageRecord
from fracture_desktop.core.jobs import CancelToken, ProgressCallback
from fracture_desktop.core.report.imagery import key_image_of
from fracture_desktop.core.report.model import ModelIdentity, ReportContext, ReportEntry
from fracture_desktop.core.shift import findings_shift

if TYPE_CHECKING:  # the engine imports torch; callers hand one in
    from fracture_desktop.core.inference.engine import InferenceEngine


def report_entry(
    analysis: Analysis,
    record: ImageRecord,
    decisions: DecisionStore | None = None,
    key_image: bool = False,
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
    if image is None or finding.flag is Flag.NOT_ANALYSED:
        return ReportEntry(record.path, finding, record, decision)
    picture = None
    if key_image and finding.flag.is_flagged:
        heat = None if analysis.prediction is None else analysis.prediction.heatmap
        picture = key_image_of(image, heat)
    spacing = image.spacing.source if image.spacing else None
    return ReportEntry(record.path, finding, record, decision, spacing, image.warnings, picture)


def collect_entries(
    records: Iterable[ImageRecord],
    engine: InferenceEngine,
    problems: Iterable[FileProblem] = (),
    decisions: DecisionStore | None = None,
    key_images: bool = False,
    on_entry: Callable[[ReportEntry], None] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    known: Mapping[Path, Finding] | None = None,
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
        Keep key images of flagged images (needed for the PDF only). Every image scored then
        gets its heatmap in the scoring pass: Grad-CAM adds little to a forward pass, while a
        second pass for flagged images only would cost a full forward each.
    on_entry : callable, optional
        Called with each entry as soon as it is made.
    progress : callable, optional
        ``progress(done, total)`` after each image.
    cancel : CancelToken, optional
        Checked between images; raises :class:`~fracture_desktop.core.jobs.Cancelled`.
    known : mapping of Path to Finding, optional
        Findings the caller already has (the viewer's): their images are decoded (spacing,
        warnings) but not scored again, except flagged ones when key images are wanted, as
        those need a heatmap.
    """
    reuse = {
        path: finding
        for path, finding in (known or {}).items()
        if finding.probability is not None and not (key_images and finding.flag.is_flagged)
    }
    records = list(records)
    entries: list[ReportEntry] = []
    analyses = analyse_each(records, engine, key_images, reuse, progress, cancel)
    for record, analysis in zip(records, analyses, strict=True):
        entries.append(report_entry(analysis, record, decisions, key_images))
        if on_entry is not None:
            on_entry(entries[-1])
    for problem in problems:
        entry = ReportEntry.from_problem(problem)
        entries.append(entry)
        if on_entry is not None:
            on_entry(entry)
    return entries


def engine_context(
    engine: InferenceEngine, entries: Iterable[ReportEntry], source: str
) -> ReportContext:
    """The report context of ``entries`` scored by ``engine``: its identity, the thresholds
    it flagged with (the card's or a site profile's), and the folder shift test."""
    shift = None
    if engine.domain is not None:
        shift = findings_shift(
            [e.finding for e in entries], engine.domain.val_scores, engine.domain.val_probabilities
        )
    model = ModelIdentity.from_card(engine.card, engine.thresholds, engine.thresholds_source)
    return ReportContext(model, source=source, shift=shift)
