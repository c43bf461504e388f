"""Triage: score a folder's images and write its CSV / PDF reports, as one job.

The one implementation of "analyse and report", used by the headless ``scan`` command
(:mod:`fracture_desktop.batch`), the viewer's File > Export report (in the model worker) and
``--self-test``. Records go in; report entries and the report files come out, with progress
per stage and a cancel token checked between items. See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fracture_desktop.core.atomic import OutputWriteError, check_writable
from fracture_desktop.core.decisions import DecisionStore
from fracture_desktop.core.findings import Finding
from fracture_desktop.core.imaging.records import FileProblem, ImageRecord
from fracture_desktop.core.jobs import CancelToken, ProgressCallback
from fracture_desktop.core.report.collect import collect_entries, engine_context
from fracture_desktop.core.report.csv_report import write_csv
from fracture_desktop.core.report.entries import ReportContext, ReportEntry

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

    @property
    def outputs(self) -> tuple[Path, ...]:
        """The report files asked for."""
        return tuple(p for p in (self.csv_path, self.pdf_path) if p is not None)

    def check_outputs(self) -> None:
        """Fail before any long work when a report cannot be written.

        Raises
        ------
        ValueError
            The CSV and the PDF are the same file.
        OutputExistsError, OutputWriteError
            See :func:`~fracture_desktop.core.atomic.check_writable`.
        """
        resolved = [p.resolve() for p in self.outputs]
        if len(set(resolved)) < len(resolved):
            raise ValueError("the CSV and the PDF report name the same file")
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


def collect(
    request: TriageRequest,
    engine: Engine,
    decisions: DecisionStore | None = None,
    progress: StageProgress | None = None,
    cancel: CancelToken | None = None,
) -> list[ReportEntry]:
    """The analysing stage: a report entry per image (key images when a PDF is asked for)."""
    return collect_entries(
        request.records,
        engine,
        request.problems,
        decisions,
        key_images=request.pdf_path is not None,
        progress=_stage(progress, ANALYSING),
        cancel=cancel,
        known=request.known,
        known_heatmaps=request.known_heatmaps,
    )


def write_reports(
    entries: Sequence[ReportEntry],
    request: TriageRequest,
    context: ReportContext,
    progress: StageProgress | None = None,
    cancel: CancelToken | None = None,
) -> tuple[Path, ...]:
    """The writing stage: the PDF first, then the CSV; returns the paths written.

    The PDF goes first because it is the slow, cancellable one: a cancel leaves no new file.
    """
    written = []
    if request.pdf_path is not None:
        from fracture_desktop.core.report.pdf_report import write_pdf  # imports reportlab

        written.append(
            write_pdf(
                entries,
                request.pdf_path,
                context,
                request.deidentify,
                request.overwrite,
                progress=_stage(progress, WRITING_PDF),
                cancel=cancel,
            )
        )
    if request.csv_path is not None:
        if cancel is not None:
            cancel.raise_if_cancelled()
        written.append(
            write_csv(entries, request.csv_path, context, request.deidentify, request.overwrite)
        )
    return tuple(written)


def triage(
    request: TriageRequest,
    engine: Engine,
    decisions: DecisionStore | None = None,
    progress: StageProgress | None = None,
    cancel: CancelToken | None = None,
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

    Raises
    ------
    OutputExistsError, OutputWriteError
        A report could not be written.
    """
    started = time.perf_counter()
    entries = collect(request, engine, decisions, progress, cancel)
    seconds = time.perf_counter() - started
    context = engine_context(engine, entries, request.source)
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
