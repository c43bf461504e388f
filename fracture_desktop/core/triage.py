"""Triage: score a folder's images and write its CSV / PDF reports, as one job.

The one implementation of "analyse and report", used by the headless ``scan`` command
(:mod:`fracture_desktop.batch`), the viewer's File > Export report (in the model worker) and
``--self-test``. Records go in; report entries and the report files come out, with progress
per stage and a cancel token checked between items. See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fracture_desktop.core.analysis import Analysis
from fracture_desktop.core.atomic import (
    OutputExistsError,
    OutputWriteError,
    check_writable,
    stage_outputs,
)
from fracture_desktop.core.decisions import DecisionStore
from fracture_desktop.core.findings import Finding
from fracture_desktop.core.imaging.records import FileProblem, ImageRecord
from fracture_desktop.core.jobs import Cancelled, CancelToken, ProgressCallback
from fracture_desktop.core.report.collect import collect_entries, engine_context
from fracture_desktop.core.report.csv_report import csv_to
from fracture_desktop.core.report.entries import ReportContext, ReportEntry
from fracture_desktop.core.report.summary import summary_json
from fracture_desktop.core.results_store import ResultsStore

if TYPE_CHECKING:  # callers hand an engine in; highdicom is slow to load
    from fracture_desktop.core.dicom_out.write import DicomResults
    from fracture_desktop.core.inference.prediction import Engine

#: ``progress(stage, done, total)``: which stage (one of :data:`STAGES`) and how far it is.
StageProgress = Callable[[str, int, int], None]
ANALYSING = "Analysing images"
WRITING_PDF = "Writing the PDF"
STAGES = (ANALYSING, WRITING_PDF)


@dataclass(frozen=True)
class TriageRequest:
    """What to triage and where the reports go.

    Attributes
    ----------
    records : tuple of ImageRecord
        The images, in report order.
    source : str
        What was analysed (the folder), printed in the report header.
    csv_path, pdf_path : Path or None
        Destinations; None leaves that report out.
    problems : tuple of FileProblem
        Files the scan could not read, listed as not analysed.
    deidentify : bool
        Leave out patient name, ID and birth date.
    overwrite : bool
        Replace existing report files (otherwise they are an error).
    known : mapping of Path to Finding
        Findings already computed (the viewer's), reused instead of scoring again.
    known_heatmaps : mapping of Path to np.ndarray
        Heatmaps of known flagged findings ([0, 1], any size: stretched to the image), so
        that their PDF key images need no model run.
    dicom_dir : Path or None
        Where DICOM results go (SR, KOS, GSPS per study; :mod:`~fracture_desktop.core.
        dicom_out`); None writes none.
    secondary_capture : bool
        With ``dicom_dir``, also a Secondary Capture per flagged image, boxes burnt in.
    summary_path : Path or None
        Where the machine-readable summary goes (``scan --summary-json``); None: nowhere.
    reader : str
        The reader making the report (the viewer's setting), printed on it.
    """

    records: tuple[ImageRecord, ...]
    source: str
    csv_path: Path | None = None
    pdf_path: Path | None = None
    problems: tuple[FileProblem, ...] = ()
    deidentify: bool = False
    overwrite: bool = False
    known: Mapping[Path, Finding] = field(default_factory=dict)
    known_heatmaps: Mapping[Path, np.ndarray] = field(default_factory=dict)
    dicom_dir: Path | None = None
    secondary_capture: bool = False
    summary_path: Path | None = None
    reader: str = ""

    @property
    def outputs(self) -> tuple[Path, ...]:
        """The files asked for, in the order they are written."""
        paths = (self.pdf_path, self.csv_path, self.summary_path)
        return tuple(p for p in paths if p is not None)

    def check_outputs(self) -> None:
        """Fail before any long work when a report cannot be written.

        Raises
        ------
        ValueError
            Two outputs name the same file.
        OutputExistsError, OutputWriteError
            See :func:`~fracture_desktop.core.atomic.check_writable`.
        """
        resolved = [p.resolve() for p in self.outputs]
        if len(set(resolved)) < len(resolved):
            raise ValueError("two outputs name the same file (--csv, --pdf, --summary-json)")
        for path in self.outputs:
            check_writable(path, self.overwrite)
        if self.dicom_dir is not None and not self.dicom_dir.is_dir():
            raise OutputWriteError(self.dicom_dir, "it is not an existing folder")


@dataclass(frozen=True)
class TriageResult:
    """What a triage produced.

    Attributes
    ----------
    entries : tuple of ReportEntry
        One per image, then one per problem file.
    context : ReportContext
        The model and source printed on the reports.
    written : tuple of Path
        The report files written.
    analysis_seconds : float
        Time spent decoding and scoring (writing excluded).
    dicom : DicomResults or None
        What the DICOM results hold, when ``dicom_dir`` was given (their files are in
        ``written`` too).
    """

    entries: tuple[ReportEntry, ...]
    context: ReportContext
    written: tuple[Path, ...]
    analysis_seconds: float
    dicom: DicomResults | None = None


def _stage(progress: StageProgress | None, stage: str) -> ProgressCallback | None:
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)


class ReportsIncomplete(OutputWriteError):
    """A writer failed on the content (not the disk): the other outputs were written.

    Attributes
    ----------
    written : tuple of Path
        The outputs that were written.
    """

    def __init__(self, path: Path, details: str, written: tuple[Path, ...]) -> None:
        super().__init__(path, details)
        self.reason = f"{path.name} could not be made; " + (
            f"written: {', '.join(p.name for p in written)}" if written else "nothing written"
        )
        self.written = written


def collect(
    request: TriageRequest,
    engine: Engine,
    decisions: DecisionStore | None = None,
    progress: StageProgress | None = None,
    cancel: CancelToken | None = None,
    results: ResultsStore | None = None,
) -> list[ReportEntry]:
    """The analysing stage: a report entry per image (key images when a PDF is asked for).

    With ``results``, an image's kept result (by this model's weights) is reused, flagged
    again with the thresholds in use, and every new score is kept there as it is made:
    a run that fails later (disk full) costs no model time when run again.
    """
    known, heatmaps = dict(request.known), dict(request.known_heatmaps)
    on_scored = None
    if results is not None:
        card = engine.card
        for record in request.records:
            kept = None if record.path in known else results.stored_for(record, card.sha256)
            if kept is not None:
                known[record.path] = kept.finding(record.path, engine.thresholds)
                if kept.heat is not None:
                    heatmaps[record.path] = kept.heat

        def on_scored(analysis: Analysis) -> None:
            prediction = analysis.prediction
            results.put_finding(
                analysis.finding,
                card.sha256,
                card.label,
                thresholds_source=engine.thresholds_source,
                heatmap=None if prediction is None else prediction.heatmap,
            )

    return collect_entries(
        request.records,
        engine,
        request.problems,
        decisions,
        key_images=request.pdf_path is not None,
        progress=_stage(progress, ANALYSING),
        cancel=cancel,
        known=known,
        known_heatmaps=heatmaps,
        on_scored=on_scored,
    )


def write_reports(
    entries: Sequence[ReportEntry],
    request: TriageRequest,
    context: ReportContext,
    progress: StageProgress | None = None,
    cancel: CancelToken | None = None,
) -> tuple[Path, ...]:
    """The writing stage: the PDF, the CSV and the summary; returns the paths written.

    All or none: each is written to a temporary file, and they are renamed into place
    together once all are complete, so a full disk, a failed write or a cancel leaves no
    new file. A writer that fails on the content (a bug, never the disk) does not take the
    others down: they are written and :class:`ReportsIncomplete` says which one failed.
    The PDF goes first because it is the slow, cancellable one.
    """
    failed: list[tuple[Path, str]] = []
    with stage_outputs(request.overwrite) as outputs:
        for path in request.outputs:
            if cancel is not None:
                cancel.raise_if_cancelled()
            try:
                with outputs.open(path) as f:
                    if path == request.pdf_path:
                        from fracture_desktop.core.report.pdf_report import pdf_to  # reportlab

                        pdf_to(
                            f, entries, context, request.deidentify,
                            _stage(progress, WRITING_PDF), cancel,
                        )  # fmt: skip
                    elif path == request.csv_path:
                        csv_to(f, entries, context, request.deidentify)
                    else:
                        f.write(summary_json(entries, context))
            except (Cancelled, OutputWriteError, OutputExistsError, OSError):
                raise  # the disk, the user: nothing of this run is published
            except Exception as exc:  # a writer's bug must not cost the other outputs
                failed.append((path, f"{type(exc).__name__}: {exc}"))
    written = tuple(p for p in request.outputs if p not in {path for path, _ in failed})
    if failed:
        raise ReportsIncomplete(failed[0][0], "; ".join(why for _, why in failed), written)
    return written


def triage(
    request: TriageRequest,
    engine: Engine,
    decisions: DecisionStore | None = None,
    progress: StageProgress | None = None,
    cancel: CancelToken | None = None,
    results: ResultsStore | None = None,
) -> TriageResult:
    """Score ``request.records`` and write the reports asked for (CSV, PDF, DICOM results).

    Parameters
    ----------
    request : TriageRequest
        The images and the report destinations.
    engine : Engine
        The loaded model; used from the calling thread only.
    decisions : DecisionStore, optional
        Reader decisions, printed beside each finding.
    progress : callable, optional
        ``progress(stage, done, total)`` (see :data:`StageProgress`).
    cancel : CancelToken, optional
        Checked between images and between PDF parts; raises
        :class:`~fracture_desktop.core.jobs.Cancelled`, leaving no new report file.
    results : ResultsStore, optional
        Kept results to reuse, and where new scores are kept (see :func:`collect`).

    Raises
    ------
    OutputExistsError, OutputWriteError
        A report could not be written: none of this run's outputs is (except
        :class:`ReportsIncomplete`, which lists those written).
    """
    started = time.perf_counter()
    entries = collect(request, engine, decisions, progress, cancel, results)
    seconds = time.perf_counter() - started
    context = replace(engine_context(engine, entries, request.source), reader=request.reader)
    written = write_reports(entries, request, context, progress, cancel)
    dicom = None
    if request.dicom_dir is not None:
        from fracture_desktop.core.dicom_out.write import write_dicom_results

        dicom = write_dicom_results(
            entries,
            context.model,
            request.dicom_dir,
            request.deidentify,
            cancel,
            capture=request.secondary_capture,
        )
        written = (*written, *dicom.written)
    return TriageResult(tuple(entries), context, written, seconds, dicom)
